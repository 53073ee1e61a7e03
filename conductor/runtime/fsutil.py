"""Durable file writes: a reader sees the old file or the new one, never half of either.

    atomic_write_json(ws / "decision.json", {"decision": "ACCEPT"})
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Union

from gates.contract import atomic_write_text as _atomic_write_text

PathLike = Union[str, "os.PathLike[str]"]


def atomic_write_text(path: PathLike, text: str) -> Path:
    """write a temp file, fsync it, rename it over `path`, fsync the directory."""
    _atomic_write_text(os.fspath(path), text)
    return Path(path)


def atomic_write_json(path: PathLike, data: Any) -> Path:
    """Pretty, sorted JSON (NaN refused), written atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def fsync_dir(path: PathLike) -> None:
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
