"""The engine: the run loop, the stage machine, tools, triage, budgets, approvals, steering, prompts,
the release config, the autopilot policy, and `session.run_session` that wires one run."""
