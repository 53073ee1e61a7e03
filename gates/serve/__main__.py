from gates.contract import run_cli
from gates.serve import SPEC

raise SystemExit(run_cli(SPEC))
