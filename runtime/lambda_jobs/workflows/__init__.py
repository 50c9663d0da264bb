"""Workflows: chains, groups and chords of jobs whose next step starts exactly once.

- :mod:`.canvas`: ``chain`` / ``group`` and the plan (stages of steps) they compile to;
- :mod:`.start`: enqueue a workflow (app side) and start a stage (app and worker side);
- :mod:`.inline`: ``LAMBDA_JOBS_CONFIG=inline`` runs a workflow in this process;
- :mod:`.handle`: :class:`Workflow` and :func:`get_workflow`;
- :mod:`lambda_jobs.jobstore.workflow_state`: the workflow's items in the job store;
- :mod:`lambda_jobs.worker.workflow_step`: what the worker does after a step ends.

Semantics, wire format and the DynamoDB requests a step adds: docs/guide/workflows.md.
"""
