from tests.fakegates import emit, verdict

emit(verdict("inconsistent", True, "SIZE_NOT_REDUCED"), 0, facts={"x": 1})
