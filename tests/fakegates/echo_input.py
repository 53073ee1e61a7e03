import json
import sys

from tests.fakegates import emit, verdict

# decides on --input: pass iff x <= --limit (default 1); what replay's re-gating does
argv = sys.argv[1:]
with open(argv[argv.index("--input") + 1]) as fh:
    facts = json.load(fh)
limit = float(argv[argv.index("--limit") + 1]) if "--limit" in argv else 1.0
ok = facts["x"] <= limit
emit(verdict("echo_input", ok, None if ok else "ACCURACY_REGRESSION"), 0 if ok else 1, facts=facts)
