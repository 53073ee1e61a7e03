from tests.fakegates import emit, verdict

emit(verdict("fail", False, "SIZE_NOT_REDUCED"), 1, facts={"x": 2})
