"""IAM in ``lambda-jobs local``: every AWS call judged as the template's principal first.

:mod:`.policies` reads the roles and policies of a template, :mod:`.requests` tells what a
request asks IAM for, :mod:`.evaluator` runs AWS's evaluation (``@cloud-copilot/iam-simulate``),
:mod:`.authorizer` maps callers to roles and decides, :mod:`.gateway` is the endpoint that judges
before serving, :mod:`.report` writes the least-privilege report. The user's view: the docs'
"Local emulator" page, "IAM in the emulator", and the IAM reference page.
"""
