from gates.contract import run_cli
from gates.perf import SPEC

raise SystemExit(run_cli(SPEC))
