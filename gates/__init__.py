"""Deterministic gates: evidence collectors, pure decision functions and JSON-schema contracts.

This package depends on nothing of conductor's (only pydantic and the standard library), so a
gate can be run, and audited, on its own: `python -m gates.<name> --help`.
"""

# name -> module; the order is the order of the stages that use them
GATE_NAMES: tuple[str, ...] = ("ptq", "serve", "eval_run", "compare", "verbosity", "audit", "perf", "fidelity")


def load_spec(name: str):
    """The GateSpec of one gate (imports only that gate's module)."""
    import importlib

    if name not in GATE_NAMES:
        raise KeyError(f"unknown gate {name!r}; known: {', '.join(GATE_NAMES)}")
    return importlib.import_module(f"gates.{name}").SPEC
