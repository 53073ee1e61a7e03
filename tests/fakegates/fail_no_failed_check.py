from tests.fakegates import emit, verdict

# fails with a class and exit 1, but every check it lists passed: not a Verdict (it contradicts itself)
v = verdict("fail_no_failed_check", False, "SIZE_NOT_REDUCED")
v["checks"] = [{"name": "c", "pass": True, "detail": "d", "failure_class": None}]
emit(v, 1, facts={"x": 1})
