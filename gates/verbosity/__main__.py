from gates.contract import run_cli
from gates.verbosity import SPEC

raise SystemExit(run_cli(SPEC))
