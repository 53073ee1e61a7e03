from gates.audit import SPEC
from gates.contract import run_cli

raise SystemExit(run_cli(SPEC))
