"""Durable, redacted file writes: a reader sees the old file or the new one, never half of either,
and never a secret.

Every file the conductor and its skills write into a run folder goes through here (the transcript,
the skill logs and the printer redact on their own), so this is where secrets are stopped: the text
(and for JSON the keys and the values) pass through this process's `default_redactor()` first.

    atomic_write_json(ws / "decision.json", {"decision": "ACCEPT"})
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Union

from conductor.redact import default_redactor
from gates.contract import atomic_write_text as _atomic_write_text

PathLike = Union[str, "os.PathLike[str]"]


def atomic_write_text(path: PathLike, text: str) -> Path:
    """write a temp file, fsync it, rename it over `path`, fsync the directory (secrets redacted)."""
    _atomic_write_text(os.fspath(path), default_redactor().redact_text(text))
    return Path(path)


def atomic_write_json(path: PathLike, data: Any) -> Path:
    """Pretty, sorted JSON (NaN refused), written atomically; keys and values redacted."""
    data = default_redactor().redact_obj(data)
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def fsync_dir(path: PathLike) -> None:
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
