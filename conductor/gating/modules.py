"""Where a run's gates live: `gates` (the real ones) or another package (tests' fake gates).

A run records its gate module prefix in the plan; replay reads it back to re-run the same gates.
A package other than `gates` provides `load_schema(gate, kind) -> dict` for its schemas.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable

REAL = "gates"


@functools.lru_cache(maxsize=16)
def schema_loader_for(prefix: str) -> Callable[[str, str], dict]:
    if prefix == REAL:
        from conductor.gating.runner import committed_schema

        return committed_schema
    return importlib.import_module(prefix).load_schema


def gate_kwargs_for(prefix: str) -> dict[str, Any]:
    """Keyword arguments for gate_runner.run_gate / regate_on_facts."""
    if prefix == REAL:
        return {}
    return {"module_prefix": prefix, "schema_loader": schema_loader_for(prefix)}
