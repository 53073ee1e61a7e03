"""The composition root: providers, skills (from the entry point group) and approvers built in one
place for the CLI and the TUI (wiring), the headless printer, and the transcript commands."""
