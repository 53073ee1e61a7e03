from tests.fakegates import emit, verdict

emit(verdict("nan_facts", True), 0, facts='{"x": NaN}')
