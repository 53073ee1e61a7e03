"""The skill progress line, owned here: `PROGRESS <fraction 0..1> <message>` on a skill's stdout.

A skill writes it with `format_progress` (`skills.common.runner.progress` prints it); the engine
reads each line of the skill's output with `parse_progress`: a progress line becomes one
skill_progress event and is not sent again as a log line (the log file keeps every line).

    >>> format_progress(0.42, "calibrating   24/64")
    'PROGRESS 0.420 calibrating 24/64'
    >>> parse_progress("PROGRESS 0.420 calibrating 24/64")
    (0.42, 'calibrating 24/64')
    >>> parse_progress("INFO PROGRESS 0.5") is None
    True
"""

from __future__ import annotations

from typing import Optional

PREFIX = "PROGRESS "


def format_progress(fraction: float, message: str = "") -> str:
    """The line for `fraction` (clamped to 0..1) and `message` (whitespace collapsed)."""
    frac = min(1.0, max(0.0, float(fraction)))
    text = " ".join(str(message).split())
    return f"{PREFIX}{frac:.3f} {text}".rstrip()


def parse_progress(line: str) -> Optional[tuple[float, str]]:
    """(fraction, message) when `line` is a progress line, else None."""
    text = line.strip()
    if not text.startswith(PREFIX):
        return None
    head, _, message = text[len(PREFIX):].partition(" ")
    try:
        fraction = float(head)
    except ValueError:
        return None
    if not 0.0 <= fraction <= 1.0:
        return None
    return fraction, message.strip()
