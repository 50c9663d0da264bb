"""lambda-jobs-tools: the ``lambda-jobs`` console script (:mod:`lambda_jobs_tools.cli`), the local
emulator (:mod:`lambda_jobs_tools.emulator`, ``lambda-jobs local``) and the operations commands
(:mod:`lambda_jobs_tools.ops`). Developers and operators install it; job images never do.
"""
