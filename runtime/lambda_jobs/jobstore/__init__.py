"""The DynamoDB job store: :mod:`.schema` (item layout, statuses, conditions), :mod:`.records`
(the app's half: write at enqueue, unique keys, look up, cancel, requeue) and :mod:`.claims` (the
worker's half: claim before running, record the outcome).

Importing this package imports none of them: the handler loads only :mod:`.claims` and
:mod:`.schema`, the app only :mod:`.records` and :mod:`.schema`.
"""
