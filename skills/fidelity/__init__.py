"""Label-free fidelity of a candidate to its baseline on held-out text (KL divergence, top-1 agreement,
log-likelihood): skills/fidelity/measure.py computes, skills/fidelity/run.py is the command, and the
fidelity gate (gates/fidelity) decides. Not yet a stage of the plan: see SKILL.md."""
