from gates.contract import run_cli
from gates.eval_run import SPEC

raise SystemExit(run_cli(SPEC))
