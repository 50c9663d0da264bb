"""``lambda-jobs local``: run synthesized backends on one machine, with AWS's semantics.

Each module serves one AWS part: ``motoserver`` (SQS, SSM, Scheduler storage), ``runtime_api`` and
``environments`` (Lambda execution environments under awslambdaric), ``esm`` (SQS event-source
mapping pollers), ``invoke_api`` (the Lambda Invoke API), ``scheduler`` (firing one-time schedules)
and ``assembly`` (reading ``cdk.out``).
"""
