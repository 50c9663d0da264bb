"""EventBridge Scheduler, both uses: :mod:`.one_time` (a delayed job's one-time schedule and its
delivery), :mod:`.recurring` (a recurring schedule's delivery) and :mod:`.expressions` (AWS's
``at``/``rate``/``cron`` expressions, parsed and evaluated).

Importing this package imports none of them: each caller loads only the one it needs.
"""
