"""Start a skill runner module whether or not the project is installed:

    python /repo/skills/common/launch.py skills.preflight.run --input args.json --out-dir D --workspace W

A skill runs with its workspace as the working directory, where `python -m skills...` would not
find the project unless it is pip-installed. This puts the project root first on sys.path (and
drops this folder, so its file names can never shadow a module), then runs the module as
__main__. Standard library only.
"""

import os
import runpy
import sys


def main() -> None:
    if len(sys.argv) < 2:
        sys.stderr.write("usage: launch.py MODULE [ARGS...]\n")
        raise SystemExit(2)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if root not in sys.path:
        sys.path.insert(0, root)
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
