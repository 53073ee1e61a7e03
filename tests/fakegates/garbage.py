from tests.fakegates import emit

emit("this is not JSON", 0, facts={"x": 1})
