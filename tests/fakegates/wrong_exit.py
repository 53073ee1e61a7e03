from tests.fakegates import emit, verdict

emit(verdict("wrong_exit", True), 1, facts={"x": 1})
