from tests.fakegates import emit, verdict

emit(verdict("schema_invalid", "yes"), 0, facts={"x": 1})
