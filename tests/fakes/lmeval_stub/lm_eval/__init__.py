"""A stand-in for lm-eval in fast tests: `cli_evaluate` prints a progress bar, writes its pid to
$FAKE_LMEVAL_PIDFILE and sleeps (an evaluation that is still running when the skill is cancelled)."""
