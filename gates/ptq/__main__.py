from gates.contract import run_cli
from gates.ptq import SPEC

raise SystemExit(run_cli(SPEC))
