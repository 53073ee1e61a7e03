from tests.fakegates import emit, verdict

emit(verdict("ptq", True), 0, facts={"x": 1})
