from tests.fakegates import emit, verdict

emit(verdict("usage_wrong_class", False, "SIZE_NOT_REDUCED"), 2)
