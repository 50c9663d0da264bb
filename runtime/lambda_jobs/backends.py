"""The backend object: what differs between Goat, Lamb and inline, chosen once from the config.

Like Django's ``get_backend().enqueue(...)``: whatever sends jobs (``Task.enqueue``,
:func:`lambda_jobs.enqueue_many`, a workflow's stages, the Django backend, the console) calls
:func:`enqueue`, which hands them to :func:`backend_of` the configuration; nothing else compares
backend names. A :class:`Backend` holds the facts the other layers ask of a backend (the client's
lane and delay rules, the configuration's defaults, the job store's schedule clean-up).

Direction (docs/internals/architecture.md): this module is core, and the enqueue side
(:mod:`lambda_jobs.enqueue`) imports it, never the other way round. Each backend names its
enqueue-side module by its dotted path (``sender``), imported on the first send, as Django's
settings name a task backend's class: so this table is the one place where core and the worker
reach the enqueue side, and no module of theirs imports it (``tests/runtime/test_layers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambda_jobs.contract import SQS_MAX_DELAY_SECONDS

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.job import Job, PreparedJob


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """One backend. Sends through ``sender``'s ``enqueue(prepared, config, single=...)``, which
    validates every job before it sends any."""

    name: str
    """The configuration's ``backend`` (as log lines and error messages name it)."""
    invokes_function: bool
    """True for Lamb: the target is a function, so every delay (and every retry) is a one-time
    schedule whose input is a Lamb delivery, and a job carries no SQS tenant."""
    max_delay_without_scheduler: int
    """The longest delay it carries without EventBridge Scheduler: the default
    ``max_delay_seconds`` of a configuration with ``"scheduler": null``."""
    sender: str
    """The dotted path of its enqueue-side module."""

    def enqueue(
        self, prepared: list[PreparedJob], config: ClientConfig, *, single: bool
    ) -> list[Job]:
        """Validate every job of ``prepared``, then send them; receipts in input order."""
        import importlib

        receipts: list[Job] = importlib.import_module(self.sender).enqueue(
            prepared, config, single=single
        )
        return receipts


GOAT = Backend(
    name="goat",
    invokes_function=False,
    max_delay_without_scheduler=SQS_MAX_DELAY_SECONDS,  # SQS DelaySeconds
    sender="lambda_jobs.enqueue.goat",
)
LAMB = Backend(
    name="lamb",
    invokes_function=True,
    max_delay_without_scheduler=0,
    sender="lambda_jobs.enqueue.lamb",
)
#: ``LAMBDA_JOBS_CONFIG=inline``: jobs run in the calling process; a delay is not waited for.
INLINE = Backend(
    name="inline",
    invokes_function=False,
    max_delay_without_scheduler=0,
    sender="lambda_jobs.enqueue.inline",
)
#: The backends a configuration document may name (``inline`` is not a document).
DEPLOYED = {backend.name: backend for backend in (GOAT, LAMB)}
_ALL = {**DEPLOYED, INLINE.name: INLINE}


def backend_of(config: ClientConfig) -> Backend:
    """The backend object of ``config`` (its ``backend`` was checked when it was parsed)."""
    return _ALL[config.backend]


def enqueue(
    prepared: list[PreparedJob], config: ClientConfig, *, single: bool = False
) -> list[Job]:
    """Validate every job, then send them through ``config``'s backend (see the module).

    ``single``: the error of a refused job is that job's own message (``Task.enqueue``), not a
    list of the refused jobs (``enqueue_many``).
    """
    if not prepared:
        return []
    return backend_of(config).enqueue(prepared, config, single=single)
