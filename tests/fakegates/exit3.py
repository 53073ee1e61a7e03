from tests.fakegates import emit, verdict

emit(verdict("exit3", True), 3, facts={"x": 1})
