"""The enqueue side's backend object, chosen once from the configuration's ``backend``.

Like Django's ``get_backend().enqueue(...)`` and Dramatiq's ``broker.enqueue(...)``: the client
asks :func:`backend_of` for the object and calls it, instead of comparing backend names. Each
backend's module (:mod:`lambda_jobs.enqueue.goat`, :mod:`lambda_jobs.enqueue.lamb`) defines its
object as ``BACKEND`` and is imported only when a configuration names it. ``inline`` has none:
the client runs those jobs in-process (:mod:`lambda_jobs.enqueue.inline`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.enqueue.outgoing import Outgoing


class Backend(Protocol):
    """What the client needs of a backend."""

    #: The configuration's ``backend`` (as log lines and error messages name it).
    name: str
    #: True for Lamb: the target is a function, so every delay (and every retry) is a one-time
    #: schedule whose input is a Lamb delivery, and a job carries no SQS tenant.
    invokes_function: bool

    def send(self, outgoing: list[Outgoing], config: ClientConfig, *, single: bool) -> None:
        """Send every job of ``outgoing``; raise one ``EnqueueError`` naming any not accepted."""
        ...


def _goat() -> Backend:
    from lambda_jobs.enqueue.goat import BACKEND

    return BACKEND


def _lamb() -> Backend:
    from lambda_jobs.enqueue.lamb import BACKEND

    return BACKEND


_LOADERS = {"goat": _goat, "lamb": _lamb}
_chosen: dict[str, Backend] = {}


def backend_of(config: ClientConfig) -> Backend:
    """The backend object of ``config`` (made once per backend name, then reused)."""
    backend = _chosen.get(config.backend)
    if backend is None:
        backend = _chosen[config.backend] = _LOADERS[config.backend]()
    return backend
