"""A gate built like the real ones (GateSpec + run_cli) whose decide() raises: run_cli fails it
closed with GATE_ERROR, in a child process and in-process alike. Facts: {"x": number}, strict."""

from gates.contract import GateSpec, StrictModel, run_cli


class Facts(StrictModel):
    x: float


def decide(facts: Facts):
    raise ZeroDivisionError(f"the decision divided by zero on x={facts.x}")


raise SystemExit(run_cli(GateSpec(name="decide_raises", facts_model=Facts, decide=decide, summary="raises")))
