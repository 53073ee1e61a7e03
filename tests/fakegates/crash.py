import sys

print("about to crash", file=sys.stderr)
raise RuntimeError("boom")  # exit 1, nothing on stdout
