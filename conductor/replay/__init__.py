"""Runs from their record: the transcript indexed by segment and call (record), its integrity checked
(integrity), replay with gates re-decided and fork (replayer), and resume of an interrupted run (resume)."""
