"""A fake skill process: `python skill_main.py OUT_DIR BEHAVIOUR_JSON`. Standard library only.

Behaviour keys: lines (printed), print_env (print that variable), sleep (seconds), spawn_child
(start a grandchild that sleeps), facts (written to facts.json; default {"pass": true}),
result (merged into result.json; default ok), no_result, garbage_result, exit (code).
"""

import json
import os
import subprocess
import sys
import time

out, b = sys.argv[1], json.loads(sys.argv[2])
for line in b.get("lines", []):
    print(line, flush=True)
if b.get("print_env"):
    print("env " + os.environ.get(b["print_env"], ""), flush=True)
if b.get("spawn_child"):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(os.path.join(out, ".child.pid"), "w") as fh:
        fh.write(str(child.pid))
    os.replace(os.path.join(out, ".child.pid"), os.path.join(out, "child.pid"))
if b.get("sleep"):
    print("sleeping", flush=True)
    with open(os.path.join(out, ".sleeping"), "w") as fh:  # atomic: a reader never sees it empty
        fh.write(str(os.getpid()))
    os.replace(os.path.join(out, ".sleeping"), os.path.join(out, "sleeping"))
    time.sleep(float(b["sleep"]))
with open(os.path.join(out, "facts.json"), "w") as fh:
    json.dump(b.get("facts", {"pass": True}), fh)
with open(os.path.join(out, "artifact.txt"), "w") as fh:
    fh.write("artifact of " + out + "\n")
rel = os.path.relpath(os.path.join(out, "artifact.txt"), os.getcwd())
result = {"ok": True, "summary": "fake skill done", "artifacts": {"artifact": rel}, "data": {}}
result.update(b.get("result", {}))
if b.get("garbage_result"):
    with open(os.path.join(out, "result.json"), "w") as fh:
        fh.write("{not json")
elif not b.get("no_result"):
    tmp = os.path.join(out, ".result.tmp")
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, os.path.join(out, "result.json"))
sys.exit(int(b.get("exit", 0)))
