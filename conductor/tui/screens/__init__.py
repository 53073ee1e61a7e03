"""The TUI's screens: start form, run, replay viewer, report, and the modals."""
