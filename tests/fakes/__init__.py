"""Fake skills and gates behind the real interfaces, for the conductor core's tests."""
