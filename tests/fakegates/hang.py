import subprocess
import sys
import time

# a hung gate with a child of its own: the runner must kill both
child = subprocess.Popen(["sleep", "1000"])
print(child.pid, file=sys.stderr, flush=True)
time.sleep(1000)
