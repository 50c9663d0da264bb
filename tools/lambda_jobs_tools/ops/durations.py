"""Durations typed on the command line: ``90s``, ``15m``, ``2h``, ``7d``, or ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

from lambda_jobs_tools.ops.shared import OpsError

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, option: str) -> timedelta:
    """``text`` as a timedelta; anything else raises :class:`OpsError` naming ``option``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise OpsError(
            f"{option} {text!r} is not a duration; use a number with a unit s, m, h, d or w, "
            "such as 90s, 15m, 2h, 7d or 1h30m"
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
