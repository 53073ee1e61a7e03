from gates.contract import run_cli
from gates.fidelity import SPEC

raise SystemExit(run_cli(SPEC))
