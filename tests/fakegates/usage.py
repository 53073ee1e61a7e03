from tests.fakegates import emit, verdict

emit(verdict("usage", False, "USER_CONFIG_ERROR"), 2)
