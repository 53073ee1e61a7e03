"""A conductor process over fake skills, for signal and kill -9 tests:

    python -m tests.fakes.run_main WORKSPACE '{"quantize": [{"sleep": 60}]}' [--resume] [--json]

Runs [quantize, compare, audits] fake skills with the scripted operator, headless, with the
real signal handling; exits with the decision's code (what `conductor run` does).
"""

from __future__ import annotations

import json
import sys

from conductor.app.headless import HeadlessPrinter
from conductor.engine.approver import NoHumanApprover
from conductor.engine.config import load_config
from conductor.engine.session import run_session
from conductor.replay.resume import resume_run
from tests.fakes.harness import FAKE_GATES, operator_script
from tests.fakes.skills import FakeSkill


def main() -> int:
    ws, spec = sys.argv[1], json.loads(sys.argv[2])
    skills = [FakeSkill(s, spec.get(s, [{}])) for s in ("quantize", "compare", "audits")]
    printer = HeadlessPrinter(stream=sys.stderr, json_stream=sys.stdout if "--json" in sys.argv else None)
    try:
        if "--resume" in sys.argv:
            outcome = resume_run(ws, provider=operator_script(skills), skills=skills, approver=NoHumanApprover(),
                                 listeners=[printer], handle_signals=True, gate_prefix=FAKE_GATES)
        else:
            cfg = load_config(overrides={"workspace": ws, "provider": "scripted"})
            outcome = run_session(cfg, operator_script(skills), skills, NoHumanApprover(), listeners=[printer],
                                  handle_signals=True, gate_prefix=FAKE_GATES)
    except KeyboardInterrupt:
        return 130
    return outcome.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
