"""What every gate shares: strict input models, the verdict shape, and the CLI contract.

A gate is a `GateSpec`: a pydantic input model (the facts), a pure `decide(facts) -> Verdict`,
and an optional `collect(args) -> facts` that derives the facts from raw artifacts.

    >>> from gates.verbosity import SPEC
    >>> raise SystemExit(run_cli(SPEC, ["--input", "facts.json"]))  # doctest: +SKIP

CLI contract (DESIGN.md, Gates):
  --input FILE|-          decide on a facts JSON
  --artifacts PATH ...    collect the facts from raw artifacts, then decide
  --facts-out FILE        also write the facts that were decided on (replay re-decides on them)
stdout: one JSON verdict; exit 0 pass, 1 fail, 2 invalid input (USER_CONFIG_ERROR).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Callable, Generic, Optional, Sequence, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from gates.failure_classes import FailureClass

SCHEMA_VERSION = 1

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INVALID = 2

# Free-form input (generation kwargs and the like: every field typed `Any`) is bounded, so that no
# hostile facts file can make a gate recurse, allocate or print without limit (issue 9, item 10).
FREE_FORM_MAX_DEPTH = 8  # containers nested below the field itself
FREE_FORM_MAX_VALUES = 1_000  # JSON values (containers, keys' values, leaves) in one field
FREE_FORM_MAX_CHARS = 16_384  # characters of all its strings, keys included
FACTS_MAX_DEPTH = 48  # the whole facts document, typed fields included
FACTS_MAX_BYTES = 64 * 1024 * 1024  # an --input file (or stdin) larger than this is refused unread
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1  # integers in facts are signed 64-bit


def bounded_json(value: Any, *, max_depth: int = FREE_FORM_MAX_DEPTH, max_values: int = FREE_FORM_MAX_VALUES,
                 max_chars: int = FREE_FORM_MAX_CHARS) -> Any:
    """`value` unchanged if it is plain JSON (dict with string keys, list, str, finite number, bool,
    null) within the bounds; ValueError otherwise. Iterative: a deep value cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    values = chars = 0
    while stack:
        v, depth = stack.pop()
        values += 1
        if values > max_values:
            raise ValueError(f"free-form value holds more than {max_values} values")
        if isinstance(v, (dict, list)):
            if depth >= max_depth:
                raise ValueError(f"free-form value nested deeper than {max_depth} levels")
            if isinstance(v, dict):
                for k, x in v.items():
                    if not isinstance(k, str):
                        raise ValueError(f"free-form object key {type(k).__name__} is not a string")
                    chars += len(k)
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, str):
            chars += len(v)
        elif isinstance(v, float) and not math.isfinite(v):
            raise ValueError("free-form numbers must be finite (no NaN or Infinity)")
        elif not (v is None or isinstance(v, (bool, int, float))):
            raise ValueError(f"free-form value of type {type(v).__name__} is not a JSON value")
        if chars > max_chars:
            raise ValueError(f"free-form value holds more than {max_chars} characters")
    return value


FreeDict = Annotated[dict[str, Any], BeforeValidator(bounded_json)]
"""A bounded free-form JSON object (at most FREE_FORM_MAX_DEPTH deep, FREE_FORM_MAX_VALUES values,
FREE_FORM_MAX_CHARS characters). StrictModel applies the same bound to every `Any` field anyway."""


def _mentions_any(tp: Any) -> bool:
    return tp is Any or any(_mentions_any(a) for a in get_args(tp))


@cache
def free_form_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of `model` whose type admits arbitrary JSON (`Any` anywhere in the annotation)."""
    return frozenset(name for name, f in model.model_fields.items() if _mentions_any(f.annotation))


class StrictModel(BaseModel):
    """Base for every gate input: no coercion, no unknown fields, no NaN or infinities, and every
    free-form (`Any`) field bounded by `bounded_json` (depth, values, characters).

    Booleans are not numbers, strings are not numbers, 1.0 is not an integer.
    """

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _bound_free_form(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in free_form_fields(cls):
                if data.get(name) is not None:
                    try:
                        bounded_json(data[name])
                    except ValueError as exc:
                        raise ValueError(f"{name}: {exc}") from None
        return data


class Check(BaseModel):
    """One thing a gate checked, with its own verdict."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    passed: bool = Field(alias="pass")
    detail: str
    failure_class: Optional[FailureClass] = None
    observed: Any = None
    expected: Any = None


EvidenceT = TypeVar("EvidenceT")


class Verdict(BaseModel):
    """A gate's answer. `pass` is true iff `failure_class` is null and every check passed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    schema_version: int = SCHEMA_VERSION
    gate: str
    passed: bool = Field(alias="pass")
    failure_class: Optional[FailureClass]
    detail: str = Field(min_length=1)
    checks: list[Check]
    evidence: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Verdict:
        failed = [c.name for c in self.checks if not c.passed]
        if self.passed:
            if self.failure_class is not None:
                raise ValueError("a passing verdict cannot carry a failure_class")
            if failed:
                raise ValueError(f"a passing verdict cannot contain failed checks: {failed}")
            if not self.checks:
                raise ValueError("a passing verdict must list what it checked")
        else:
            if self.failure_class is None:
                raise ValueError("a failing verdict needs a failure_class")
            if not failed:
                raise ValueError("a failing verdict needs at least one failed check")
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, allow_nan=False)


def check(name: str, ok: bool, detail: str, *, failure_class: FailureClass | None = None,
          observed: Any = None, expected: Any = None) -> Check:
    """Shorthand for a Check; a failed check should name the class it implies."""
    return Check(name=name, passed=ok, detail=detail, failure_class=None if ok else failure_class,
                 observed=observed, expected=expected)


def verdict_from_checks(gate: str, checks: list[Check], *, pass_detail: str,
                        evidence: dict[str, Any] | None = None,
                        priority: Sequence[FailureClass] = ()) -> Verdict:
    """Pass iff every check passed; otherwise the failure_class of the first failed check,
    or the first class in `priority` that some failed check carries (terminal before transient).
    The detail of a failure joins the details of the failed checks."""
    failed = [c for c in checks if not c.passed]
    if not failed:
        return Verdict(gate=gate, passed=True, failure_class=None, detail=pass_detail,
                       checks=checks, evidence=evidence or {})
    carried = [c.failure_class for c in failed if c.failure_class is not None]
    fc = next((p for p in priority if p in carried), carried[0] if carried else FailureClass.UNKNOWN)
    detail = "; ".join(c.detail for c in failed)
    return Verdict(gate=gate, passed=False, failure_class=fc, detail=detail, checks=checks,
                   evidence=evidence or {})


class InputError(Exception):
    """Raised by a collector when its artifacts cannot be read as facts (exit 2)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


FactsT = TypeVar("FactsT", bound=StrictModel)


@dataclass(frozen=True)
class GateSpec(Generic[FactsT]):
    """Everything the CLI harness and the schema generator need to know about one gate."""

    name: str
    facts_model: type[FactsT]
    decide: Callable[[FactsT], Verdict]
    summary: str
    collect: Optional[Callable[[argparse.Namespace], FactsT]] = None
    artifacts_help: str = "raw artifacts to collect the facts from"
    add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None
    # flags that override fields of the facts (e.g. --threshold when re-gating); name -> facts path
    apply_overrides: Optional[Callable[[FactsT, argparse.Namespace], FactsT]] = None
    output_model: type[Verdict] = field(default=Verdict)


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number JSON allows")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json `object_pairs_hook` that refuses an object naming a key twice (json.loads would silently keep
    the last value)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_json_strict(text: str) -> Any:
    """json.loads that refuses NaN/Infinity tokens and duplicate keys."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=unique_keys)


def format_validation_error(err: ValidationError) -> str:
    """One sentence naming the first offending field, then a count of the others."""
    errors = err.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"input field '{loc}': {first['msg']}{more}"


def invalid_verdict(gate: str, message: str, errors: list[dict[str, Any]] | None = None) -> Verdict:
    return Verdict(
        gate=gate, passed=False, failure_class=FailureClass.USER_CONFIG_ERROR,
        detail=message,
        checks=[Check(name="input_valid", passed=False, detail=message,
                      failure_class=FailureClass.USER_CONFIG_ERROR)],
        evidence={"errors": errors or []},
    )


def validate_facts(spec: GateSpec[FactsT], data: Any) -> FactsT:
    return spec.facts_model.model_validate(data)


def _jsonable_errors(err: ValidationError) -> list[dict[str, Any]]:
    out = []
    for e in err.errors(include_url=False)[:20]:
        out.append({"loc": [str(p) for p in e["loc"]], "msg": str(e["msg"]), "type": str(e["type"])})
    return out


def atomic_write_text(path: str, text: str) -> None:
    """write, fsync, rename, fsync the directory: a reader sees the old file or the new, never half."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_parser(spec: GateSpec[Any], parser_class: type = argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = parser_class(
        prog=f"python -m gates.{spec.name}",
        description=f"{spec.summary}\n\nExit codes: 0 pass, 1 the gate ran and failed, "
                    "2 the input was unreadable or invalid (USER_CONFIG_ERROR).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", metavar="FILE", help="facts JSON to decide on ('-' reads stdin)")
    if spec.collect is not None:
        src.add_argument("--artifacts", nargs="+", metavar="PATH", help=spec.artifacts_help)
    p.add_argument("--facts-out", metavar="FILE", help="also write the facts decided on to FILE (atomically)")
    if spec.add_arguments:
        spec.add_arguments(p)
    return p


class _ArgError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgError(message)


def run_cli(spec: GateSpec[Any], argv: Sequence[str] | None = None) -> int:
    """Parse, collect or read, validate, decide, print one JSON verdict, return the exit code.

    Whatever happens, stdout gets exactly one JSON verdict and the exit code agrees with it: a
    verdict that cannot be serialised is replaced by a minimal GATE_ERROR one (exit 1)."""
    parser = build_parser(spec, _Parser)  # usage errors become a USER_CONFIG_ERROR verdict
    try:
        args = parser.parse_args(argv)
    except _ArgError as exc:
        return _emit(invalid_verdict(spec.name, f"usage: {exc}"), EXIT_INVALID, spec.name)
    facts, early = _facts_or_verdict(spec, args)
    if early is not None:
        return _emit(early[0], early[1], spec.name)
    if args.facts_out:
        try:
            atomic_write_text(args.facts_out, facts.model_dump_json(indent=2) + "\n")
        except (OSError, ValueError, RecursionError) as exc:
            return _emit(invalid_verdict(spec.name, f"--facts-out: cannot write {args.facts_out!r}: {exc}"),
                         EXIT_INVALID, spec.name)
    try:
        verdict = spec.decide(facts)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"returned {type(verdict).__name__}, not a Verdict")
    except Exception as exc:  # a bug in a decision must fail closed, never pass
        return _emit(_gate_error(spec.name, "the decision function", exc), EXIT_FAIL, spec.name)
    return _emit(verdict, EXIT_PASS if verdict.passed else EXIT_FAIL, spec.name)


def _facts_or_verdict(spec: GateSpec[Any], args: argparse.Namespace) -> tuple[Any, Optional[tuple[Verdict, int]]]:
    """(facts, None), or (None, (the verdict to emit instead, its exit code))."""
    try:
        if args.input is not None:
            facts = _read_facts(spec, args.input)
        else:
            facts = spec.collect(args)  # type: ignore[misc]
            # collected facts go through the same bounds and validation as facts read from a file
            data = facts.model_dump(mode="python")
            check_document(data, "the collected facts")
            facts = spec.facts_model.model_validate(data)
        if spec.apply_overrides is not None:
            facts = spec.apply_overrides(facts, args)
    except InputError as exc:
        return None, (invalid_verdict(spec.name, str(exc)), EXIT_INVALID)
    except ValidationError as exc:
        return None, (invalid_verdict(spec.name, format_validation_error(exc), _jsonable_errors(exc)), EXIT_INVALID)
    except RecursionError:  # artifacts nested beyond what can be read: invalid input, not a gate bug
        return None, (invalid_verdict(spec.name, "the input nests too deeply to be read"), EXIT_INVALID)
    except Exception as exc:  # a collector bug fails closed with a verdict, never a traceback
        return None, (_gate_error(spec.name, "the collector", exc), EXIT_FAIL)
    return facts, None


def check_document(data: Any, what: str = "the facts") -> None:
    """InputError when `data` nests deeper than FACTS_MAX_DEPTH, or holds an integer beyond 64 bits (no
    count, size or id is that large, and arithmetic on one overflows a float). Checked without recursion."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, int) and not isinstance(v, bool) and not INT_MIN <= v <= INT_MAX:
            raise InputError("(top level)", f"{what} hold an integer beyond 64 bits")
        if isinstance(v, (dict, list)):
            if depth >= FACTS_MAX_DEPTH:
                raise InputError("(top level)", f"{what} nest deeper than {FACTS_MAX_DEPTH} levels")
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))


def _gate_error(gate: str, where: str, exc: Exception) -> Verdict:
    msg = f"{where} raised {type(exc).__name__}: {_safe_str(exc)}"
    return Verdict(gate=gate, passed=False, failure_class=FailureClass.GATE_ERROR, detail=msg,
                   checks=[Check(name="gate_ran", passed=False, detail=msg,
                                 failure_class=FailureClass.GATE_ERROR)])


def _safe_str(exc: BaseException, limit: int = 300) -> str:
    try:
        text = str(exc)
    except Exception:  # an exception whose message itself raises
        text = "(no message)"
    return text[:limit]


def _read_facts(spec: GateSpec[Any], source: str) -> Any:
    try:
        if source == "-":
            text = sys.stdin.read(FACTS_MAX_BYTES + 1)
        else:
            with open(source, encoding="utf-8") as fh:
                text = fh.read(FACTS_MAX_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("--input", f"cannot read {source!r}: {exc}") from None
    if len(text) > FACTS_MAX_BYTES:
        raise InputError("--input", f"{source!r} is larger than {FACTS_MAX_BYTES // (1024 * 1024)} MiB")
    try:
        data = parse_json_strict(text)
    except (ValueError, RecursionError) as exc:
        raise InputError("--input", f"{source!r} is not valid JSON: {_safe_str(exc, 200)}") from None
    if not isinstance(data, dict):
        raise InputError("(top level)", f"expected a JSON object, got {type(data).__name__}")
    check_document(data)
    return spec.facts_model.model_validate(data)


def _emit(verdict: Verdict, code: int, gate: str) -> int:
    """Print the verdict; if it cannot be serialised (or claims a pass with the wrong code), print a
    minimal GATE_ERROR verdict instead and return 1: never a traceback, never an empty stdout."""
    try:
        text = verdict.to_json()
        if (code == EXIT_PASS) != (verdict.passed is True):
            raise ValueError(f"exit code {code} disagrees with pass={verdict.passed}")
    except Exception as exc:
        text, code = minimal_gate_error(gate, exc), EXIT_FAIL
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return code


def minimal_gate_error(gate: str, exc: BaseException) -> str:
    """A GATE_ERROR verdict built from plain strings, valid against every gate's output schema."""
    detail = f"the verdict could not be emitted ({type(exc).__name__}: {_safe_str(exc, 200)}): the gate fails closed"
    check_ = {"name": "verdict_emitted", "pass": False, "detail": detail, "failure_class": "GATE_ERROR",
              "observed": None, "expected": None}
    return json.dumps({"schema_version": SCHEMA_VERSION, "gate": str(gate), "pass": False,
                       "failure_class": FailureClass.GATE_ERROR.value, "detail": detail, "checks": [check_],
                       "evidence": {}}, sort_keys=True, ensure_ascii=True)


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
