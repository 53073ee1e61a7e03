from tests.fakegates import emit, verdict

emit(verdict("unknown_class", False, "AGENT_SAYS_FINE"), 1, facts={"x": 1})
