"""UTC timestamps as every record writes them: ISO-8601, milliseconds, `Z`.

    >>> len(utc_now()) == len("2025-06-02T09:00:00.000Z")
    True
"""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
