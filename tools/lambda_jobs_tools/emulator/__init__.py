"""``lambda-jobs local``: run synthesized backends on one machine, with AWS's semantics.

One module per part: ``assembly`` (reading ``cdk.out``), ``intrinsics`` (resolving template
values), ``image`` (the image's ENV and CMD from its Dockerfile), ``provision`` (creating a stack's
resources in moto; ``topology`` holds what it read), ``motoserver`` (SQS, SSM, Scheduler storage;
``fifo_receive`` puts moto's FIFO receive order right),
``runtime_api`` and ``environments`` (Lambda execution environments under awslambdaric), ``esm``
(SQS event-source mapping pollers), ``async_queue`` and ``invoke_api`` (the Lambda Invoke API and
its async retry policy), ``scheduler`` (firing one-time schedules), ``recursion`` (Lambda's
recursive loop detection), ``sqs_front`` (the functions' SQS endpoint, which keeps senders' trace
headers as SQS does), ``scheduler_front`` (the Scheduler endpoint, answering errors as AWS does),
``reaper`` (the watchdog that ends every child process if the emulator is killed), ``staleness``
(task modules changed after the synth), ``console_log`` (the emulator's console log of jobs and
invocations), ``local`` (starting and stopping all of it), ``local_command`` (the console
subcommand) and ``process`` (driving ``lambda-jobs local`` as a child process, for scripts and
tests).
"""
