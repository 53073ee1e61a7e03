"""Deterministic verifiers of the conductor_pack_* lm-eval tasks (no LLM judge, no network).

Each pack's items ship alongside (`<pack>.jsonl`, written by scripts/make_packs.py from a seed). An
item carries the prompt the model sees, what a correct answer must satisfy, and a `reference`
answer that satisfies it (the positive control). `verify(doc, response)` returns the item's metrics;
`process_results_<pack>` is what the YAML names. Every metric is 1.0 only when the answer is right,
with no partial credit a junk answer could collect (a template echoed back is schema-valid, a prompt
echoed back contains its required word); a junk answer (empty, the prompt echoed, a fixed string,
another item's reference) scores 0 on every metric: `skills/evaluate/packs.py` checks both controls
before a pack is scored.

Only the standard library and PyYAML: the task folder can be copied and used on its own.

Rules, per pack (what a response must do to pass):
  tool_call      the first JSON object in the response has "name" equal to the expected tool and
                 "arguments" with exactly the expected keys; strings match after trimming and case
                 folding, numbers by value (a number written as a string is wrong: a tool would reject it).
  instruct       every constraint of the item holds (required/forbidden words, word counts, case,
                 bullet count, start and end phrases, no commas); see CONSTRAINTS.
  struct_output  the answer parses (JSON: the first JSON object, strictly; YAML: the fenced block, or the
                 whole reply) into a mapping with exactly the required keys, each of the declared type,
                 each equal to the value the prompt gave.
  extract        the first JSON object in the response; field_acc = fraction of the expected fields
                 whose value matches (atomic field score), pass = every field matches.
  math           the last number in the response equals the exact answer.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
PACKS = ("tool_call", "instruct", "struct_output", "extract", "math")


def load_local_json(data_files: Optional[dict[str, str]] = None, **_: Any):
    """The tasks' `custom_dataset`: the data files resolved against this folder (not the cwd)."""
    import datasets

    if not data_files:
        raise ValueError("conductor_pack tasks need dataset_kwargs.data_files")
    files = {split: str((HERE / f).resolve()) for split, f in data_files.items()}
    for split, f in files.items():
        if not Path(f).is_file():
            raise FileNotFoundError(f"conductor_pack: data file for split {split!r} is missing: {f}")
    return datasets.load_dataset("json", data_files=files)


def load_items(pack: str) -> list[dict[str, Any]]:
    path = HERE / f"{pack}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------ parsing helpers

_FENCE = re.compile(r"```[a-zA-Z]*\n(.*?)(?:```|$)", re.DOTALL)
_NUM = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?")


def first_json_object(text: str) -> Optional[dict[str, Any]]:
    """The first JSON object (strict JSON: no trailing commas, no single quotes) anywhere in the text."""
    dec = json.JSONDecoder()
    for i, ch in enumerate(text or ""):
        if ch != "{":
            continue
        try:
            value, _ = dec.raw_decode(text, i)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_yaml_mapping(text: str) -> Optional[dict[str, Any]]:
    """A YAML mapping: the first fenced block if there is one, else the reply up to its first blank line."""
    import yaml

    m = _FENCE.search(text or "")
    body = m.group(1) if m else (text or "").strip().split("\n\n", 1)[0]
    try:
        value = yaml.safe_load(body)
    except yaml.YAMLError:
        return None
    return value if isinstance(value, dict) else None


def numbers(text: str) -> list[float]:
    """Every number in the text, in order ("1,234" is one number; "3.5" one; "-2" negative)."""
    return [float(m.group(0).replace(",", "")) for m in _NUM.finditer(text or "")]


def norm_str(x: str) -> str:
    return " ".join(str(x).strip().casefold().split())


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def value_matches(got: Any, want: Any, *, numeric_strings: bool = False) -> bool:
    """Strings: trimmed, case-folded, whitespace-collapsed; numbers by value; booleans exactly; lists
    element by element in order. A string never equals a number unless numeric_strings (extraction)."""
    if isinstance(want, bool):
        return isinstance(got, bool) and got == want
    if is_number(want):
        if is_number(got):
            return float(got) == float(want)
        if numeric_strings and isinstance(got, str):
            found = numbers(got)
            return len(found) == 1 and found[0] == float(want) and bool(re.fullmatch(r"[\s$€£\d.,-]*", got))
        return False
    if isinstance(want, str):
        return isinstance(got, str) and norm_str(got) == norm_str(want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            value_matches(g, w, numeric_strings=numeric_strings) for g, w in zip(got, want, strict=True))
    return got == want


# ------------------------------------------------------------------ tool_call

def verify_tool_call(doc: dict[str, Any], response: str) -> dict[str, float]:
    want = doc["expected"]
    call = first_json_object(response)
    ok = (call is not None and call.get("name") == want["name"] and isinstance(call.get("arguments"), dict)
          and set(call["arguments"]) == set(want["arguments"])
          and all(value_matches(call["arguments"][k], v) for k, v in want["arguments"].items()))
    return {"pass": float(ok)}


# ------------------------------------------------------------------ instruct

_WORD = re.compile(r"[A-Za-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text or "")


def _has_word(text: str, word: str) -> bool:
    pattern = r"(?<![A-Za-z0-9'])" + re.escape(word) + r"(?![A-Za-z0-9'])"
    return re.search(pattern, text or "", re.IGNORECASE) is not None


def _bare(text: str) -> str:
    """Case-folded, whitespace-collapsed, without surrounding quotes and final punctuation."""
    return norm_str(text).strip("\"'“”‘’").rstrip(".!?").strip("\"'“”‘’ ")


def _bullets(text: str) -> int:
    return sum(1 for line in (text or "").splitlines() if re.match(r"^\s*[-*]\s+\S", line))


CONSTRAINTS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "include_words": lambda t, c: bool(t.strip()) and all(_has_word(t, w) for w in c["words"]),
    "exclude_words": lambda t, c: bool(t.strip()) and not any(_has_word(t, w) for w in c["words"]),
    "max_words": lambda t, c: 0 < len(_words(t)) <= c["n"],
    "min_words": lambda t, c: len(_words(t)) >= c["n"],
    "lowercase": lambda t, c: any(ch.isalpha() for ch in t) and not any(ch.isupper() for ch in t),
    "uppercase": lambda t, c: any(ch.isalpha() for ch in t) and not any(ch.islower() for ch in t),
    "bullets": lambda t, c: _bullets(t) == c["n"],
    "end_with": lambda t, c: bool(_bare(c["phrase"])) and _bare(t).endswith(_bare(c["phrase"])),
    "start_with": lambda t, c: bool(_bare(c["phrase"])) and _bare(t).startswith(_bare(c["phrase"])),
    "no_commas": lambda t, c: bool(t.strip()) and "," not in t,
}


def verify_instruct(doc: dict[str, Any], response: str) -> dict[str, float]:
    return {"pass": float(all(CONSTRAINTS[c["type"]](response or "", c) for c in doc["constraints"]))}


# ------------------------------------------------------------------ struct_output

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": is_number,
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
}


def verify_struct_output(doc: dict[str, Any], response: str) -> dict[str, float]:
    obj = parse_yaml_mapping(response) if doc["format"] == "yaml" else first_json_object(response)
    fields = doc["fields"]  # key -> {"type": ..., "value": ...}
    valid = obj is not None and set(obj) == set(fields) and all(
        _TYPES[spec["type"]](obj[k]) for k, spec in fields.items())
    ok = valid and all(value_matches(obj[k], spec["value"]) for k, spec in fields.items())  # type: ignore[index]
    return {"pass": float(ok)}


# ------------------------------------------------------------------ extract

def verify_extract(doc: dict[str, Any], response: str) -> dict[str, float]:
    obj = first_json_object(response) or {}
    want = doc["fields"]
    hits = [k in obj and value_matches(obj[k], v, numeric_strings=True) for k, v in want.items()]
    return {"field_acc": float(sum(hits)) / len(hits), "pass": float(all(hits))}


# ------------------------------------------------------------------ math

def verify_math(doc: dict[str, Any], response: str) -> dict[str, float]:
    found = numbers(response)
    return {"pass": float(bool(found) and found[-1] == float(doc["answer"]))}


VERIFIERS: dict[str, Callable[[dict[str, Any], str], dict[str, float]]] = {
    "tool_call": verify_tool_call, "instruct": verify_instruct, "struct_output": verify_struct_output,
    "extract": verify_extract, "math": verify_math,
}


def verify(doc: dict[str, Any], response: str) -> dict[str, float]:
    """The item's metrics for one response (the doc names its pack)."""
    return VERIFIERS[doc["pack"]](doc, response if isinstance(response, str) else "")


def _first(results: list[Any]) -> str:
    return results[0] if results and isinstance(results[0], str) else ""


def process_results_tool_call(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return verify_tool_call(doc, _first(results))


def process_results_instruct(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return verify_instruct(doc, _first(results))


def process_results_struct_output(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return verify_struct_output(doc, _first(results))


def process_results_extract(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return verify_extract(doc, _first(results))


def process_results_math(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return verify_math(doc, _first(results))
