"""Running the gates for the engine: a gate as a child process or in this process, its verdict checked
against the committed schemas and failed closed to GATE_ERROR (runner, inprocess, modules)."""
