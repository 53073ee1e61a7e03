from tests.fakegates import emit, verdict

emit(verdict("bad_facts", True), 0, facts={"x": "one"})
