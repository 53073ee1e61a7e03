import json

from tests.fakegates import emit, verdict

emit(json.dumps(verdict("two_objects", True)) + "\n" + json.dumps(verdict("two_objects", True)), 0, facts={"x": 1})
