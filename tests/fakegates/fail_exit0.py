from tests.fakegates import emit, verdict

emit(verdict("fail_exit0", False, "SIZE_NOT_REDUCED"), 0, facts={"x": 1})
