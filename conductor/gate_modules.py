"""Where a run's gates live: `gates` (the real ones) or another package (tests' fake gates).

A run records its gate module prefix in the plan; replay reads it back to re-run the same gates.
A package other than `gates` provides `load_schema(gate, kind) -> dict` for its schemas.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path
from typing import Any, Callable

REAL = "gates"


@functools.lru_cache(maxsize=16)
def schema_loader_for(prefix: str) -> Callable[[str, str], dict]:
    if prefix == REAL:
        from conductor.gate_runner import committed_schema

        return committed_schema
    return getattr(importlib.import_module(prefix), "load_schema")


@functools.lru_cache(maxsize=16)
def fingerprint(prefix: str) -> str:
    """sha256 of the gate package's files (code, schemas, recipes), by sorted relative path.

    A run records it (run_started.gates_fingerprint); replay with the same fingerprint runs the very
    same gates, so each re-decided verdict must equal the recorded one byte for byte, not only its
    pass / failure_class / decision."""
    pkg = importlib.import_module(prefix)
    root = Path(pkg.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".json", ".yaml") and p.is_file()):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def gate_kwargs_for(prefix: str) -> dict[str, Any]:
    """Keyword arguments for gate_runner.run_gate / regate_on_facts."""
    if prefix == REAL:
        return {}
    return {"module_prefix": prefix, "schema_loader": schema_loader_for(prefix)}
