from tests.fakegates import emit, verdict

emit(verdict("ok", True), 0, facts={"x": 1})
