"""Pure decision: did the server come up, serve the model it was asked to, and generate sense?

DEPLOYMENT_HEALTH_FAILED when the server exited on its own (any exit that was not our deliberate
stop: a crash of the server under test is a property of this deployment until shown otherwise,
and its log tail is what the agent repairs from; a blind INFRA_TRANSIENT retry would hide a
deterministic crash), when no health probe answered 200 within load_ceiling_s (inclusive; re-derived
from the probes, never from a reported time), when health was lost after it was reached (the last
probe is not 200), or when /v1/models does not list the requested model (or was not queried), or
lists it with a root (vLLM's path of the served checkpoint) other than the checkpoint the server was
started on (another server answering on the port).

INFERENCE_FAILED when fewer than min_canaries distinct prompts were asked; when any canary errored,
had no HTTP 200, or came back empty; when any completion is degenerate; when any correct completion
is not specific to its prompt (gates/serve/specific.py: the same text, or the same set of canary
answers, given to another prompt; or the answers of at least half of the other canaries in it); or
when fewer than ceil(min_correct_fraction * distinct prompts) prompts were answered correctly
(default 2/3, with at least 3 prompts). Correct = one acceptable answer appears, case-insensitively,
as a whole word or phrase (so "4" is not found in "2024"), after NFKC and with the characters that
print nothing removed ("Pa\u200bris" says Paris), and is not in the prompt itself (an echo of the
prompt would hold it); a prompt asked twice counts once, and only if every attempt was correct, and a
not-specific answer is not correct. Degenerate = more than 30% of the non-space characters non-printable (control,
private-use, unassigned, U+FFFD), or >= 8 words of which one word is half, or >= 16 non-space
characters of which one character is half, or >= 8 characters with no letter or digit at all.

Why 2/3 and not all: a 135M model can miss one fact question at temperature 0, and a canary that
flakes on a healthy server trains people to ignore it. Why it still stops gibberish: every canary
must generate non-empty, non-degenerate text without an error, and a generator of noise does not
hit two thirds of independent whole-word answers ("Paris", "blue", "honey", ...).
"""

from __future__ import annotations

import math
import posixpath
import re
import unicodedata
from collections import Counter
from typing import Any, Optional

from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.serve.canaries import key
from gates.serve.models import CanaryResult, ServeFacts
from gates.serve.specific import not_specific
from gates.text import is_blank

GATE = "serve"
PRIORITY = (FC.DEPLOYMENT_HEALTH_FAILED, FC.INFERENCE_FAILED)
_LOG_LINES = 20


def _norm(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed, and the characters that print nothing (format, control, private,
    unassigned) removed: "Pa\u200bris" says Paris; a zero-width space cannot hide or fake an answer."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(text.casefold().split())


def _phrase(answer: str) -> str:
    return rf"(?<!\w){re.escape(answer)}(?!\w)"


def answer_found(completion: str, must_contain: list[str], prompt: str = "") -> Optional[str]:
    """The first acceptable answer that appears as a whole word or phrase, else None. An answer that the prompt
    itself contains proves nothing (an echo of the prompt would hold it) and is not looked for."""
    text, asked = _norm(completion), _norm(prompt)
    for ans in must_contain:
        a = _norm(ans)
        if a and not re.search(_phrase(a), asked) and re.search(_phrase(a), text):
            return ans
    return None


def _bad_char(ch: str) -> bool:
    return ch == "\ufffd" or not ch.isprintable() or unicodedata.category(ch) in ("Co", "Cn", "Cs")


def degeneracy(text: str) -> Optional[str]:
    """Why a completion is degenerate, or None."""
    chars = [ch for ch in text if not ch.isspace()]
    if not chars:
        return None
    bad = sum(1 for ch in chars if _bad_char(ch))
    if bad / len(chars) > 0.3:
        return f"{bad} of {len(chars)} characters are not printable"
    words = re.findall(r"\w+", text.casefold())
    if len(words) >= 8:
        word, n = Counter(words).most_common(1)[0]
        if n / len(words) >= 0.5:
            return f"one word repeated: {word!r} is {n} of {len(words)} words"
    if len(chars) >= 16:
        ch, n = Counter(chars).most_common(1)[0]
        if n / len(chars) >= 0.5:
            return f"one character repeated: {ch!r} is {n} of {len(chars)} characters"
    if len(chars) >= 8 and not any(ch.isalnum() for ch in chars):
        return "no letter or digit at all"
    return None


def judge_canary(c: CanaryResult) -> tuple[str, str]:
    """(status, reason): status is ok, error, empty, degenerate or wrong_answer."""
    if c.error is not None or c.http_status != 200:
        return "error", c.error or f"HTTP status {c.http_status}"
    if c.completion is None or is_blank(c.completion):
        return "empty", "no text generated"
    why = degeneracy(c.completion)
    if why is not None:
        return "degenerate", why
    found = answer_found(c.completion, c.must_contain, c.prompt)
    if found is None:
        keys = [_norm(a) for a in c.must_contain if _norm(a)]
        echo = bool(keys) and all(re.search(_phrase(k), _norm(c.prompt)) for k in keys)
        return "wrong_answer", (f"the acceptable answers {c.must_contain} appear in the prompt itself: an echo "
                                "would pass, so this canary proves nothing" if echo else
                                f"none of {c.must_contain} in the completion")
    return "ok", f"contains {found!r}"


def _health(f: ServeFacts) -> tuple[list[Check], dict[str, Any]]:
    probes = sorted(f.health_probes, key=lambda p: p.t_s)
    first_200 = next((p for p in probes if p.http_status == 200), None)
    healthy = first_200 if first_200 is not None and first_200.t_s <= f.load_ceiling_s else None
    ev = {"probes": len(probes), "time_to_healthy_s": first_200.t_s if first_200 else None,
          "reported_time_to_healthy_s": f.reported_time_to_healthy_s, "load_ceiling_s": f.load_ceiling_s}
    if healthy is not None:
        d = f"/health answered 200 at {healthy.t_s:g}s (ceiling {f.load_ceiling_s:g}s)"
    elif first_200 is not None:
        d = f"/health first answered 200 at {first_200.t_s:g}s, after the {f.load_ceiling_s:g}s ceiling"
    else:
        last = probes[-1] if probes else None
        d = (f"/health never answered 200 in {len(probes)} probe(s)"
             + (f"; last: status {last.http_status}, error {last.error!r}" if last else ""))
    checks = [check("healthy_within_ceiling", healthy is not None, d, failure_class=FC.DEPLOYMENT_HEALTH_FAILED,
                    observed=ev["time_to_healthy_s"], expected=f.load_ceiling_s)]
    if healthy is not None:
        last = probes[-1]
        ok = last.http_status == 200
        checks.append(check("stayed_healthy", ok, "the last health probe answered 200" if ok else
                            f"health lost after {healthy.t_s:g}s: the last probe at {last.t_s:g}s got status "
                            f"{last.http_status}, error {last.error!r}",
                            failure_class=FC.DEPLOYMENT_HEALTH_FAILED, observed=last.http_status, expected=200))
    return checks, ev


def _alive(f: ServeFacts) -> Check:
    e = f.server_exit
    if e is None or e.stopped_by_us:
        return check("server_alive", True, "the server did not exit on its own")
    tail = " | ".join(f.log_tail[-3:])
    return check("server_alive", False,
                 f"the server exited (code {e.exit_code}, signal {e.signal}) at {e.t_s}s"
                 + (f"; log tail: {tail[:500]}" if tail else ""),
                 failure_class=FC.DEPLOYMENT_HEALTH_FAILED, observed=e.model_dump())


def _same_path(a: str, b: str) -> bool:
    return posixpath.normpath(a.replace("\\", "/")) == posixpath.normpath(b.replace("\\", "/"))


def _model_listed(f: ServeFacts) -> Check:
    """The requested name is listed, and, where /v1/models says which checkpoint it serves (vLLM's root), it is the
    checkpoint the server was started on: another server answering on this port lists a name but serves its own."""
    listed = f.models_listed
    ok = listed is not None and f.model_requested in listed
    root = (f.model_roots or {}).get(f.model_requested)
    wrong_root = ok and root is not None and f.checkpoint is not None and not _same_path(root, f.checkpoint)
    d = ("/v1/models was not queried" if listed is None else
         f"{f.model_requested!r} is not among the listed {listed}" if not ok else
         f"{f.model_requested!r} is listed but serves {root!r}, not the checkpoint the server was started on "
         f"({f.checkpoint!r}): another server answers on this port" if wrong_root else
         f"{f.model_requested!r} is listed" + (f", serving {root!r}" if root else ""))
    return check("model_listed", ok and not wrong_root, d, failure_class=FC.DEPLOYMENT_HEALTH_FAILED,
                 observed={"listed": listed, "root": root}, expected={"model": f.model_requested, "root": f.checkpoint})


def _judge_all(f: ServeFacts) -> list[dict[str, Any]]:
    """One row per canary: its own status, then `not_specific` where a correct answer is not specific."""
    table = []
    for c in f.canaries:
        status, reason = judge_canary(c)
        table.append({"prompt": c.prompt, "status": status, "reason": reason, "completion": (c.completion or "")[:300],
                      "finish_reason": c.finish_reason, "http_status": c.http_status, "latency_s": c.latency_s,
                      "completion_tokens": c.completion_tokens})
    keys: dict[str, frozenset[str]] = {}
    for c in f.canaries:
        keys[key(c.prompt)] = keys.get(key(c.prompt), frozenset()) | {_norm(a) for a in c.must_contain if _norm(a)}
    flagged = not_specific([key(c.prompt) for c in f.canaries], keys, [c.completion or "" for c in f.canaries],
                           [r["status"] == "ok" for r in table], _norm)
    for i, why in flagged.items():
        table[i].update(status="not_specific", reason=f"contains its answer, but {why}")
    return table


def _show(rows: list[dict[str, Any]]) -> str:
    return "; ".join(f"{r['prompt']!r}: {r['reason']}" for r in rows[:5])


def _canary_checks(f: ServeFacts) -> tuple[list[Check], list[dict[str, Any]]]:
    table = _judge_all(f)
    by_prompt: dict[str, list[str]] = {}
    for r in table:
        by_prompt.setdefault(key(r["prompt"]), []).append(r["status"])
    distinct = len(by_prompt)
    correct = sum(1 for statuses in by_prompt.values() if all(s == "ok" for s in statuses))
    required = math.ceil(f.min_correct_fraction * distinct - 1e-9)
    failed = [r for r in table if r["status"] in ("error", "empty")]
    degenerate = [r for r in table if r["status"] == "degenerate"]
    vague = [r for r in table if r["status"] == "not_specific"]
    checks = [
        check("canaries_asked", distinct >= f.min_canaries,
              f"{distinct} distinct canary prompt(s) asked (at least {f.min_canaries} required)",
              failure_class=FC.INFERENCE_FAILED, observed=distinct, expected=f.min_canaries),
        check("generation_ok", not failed, f"{len(failed)} canary request(s) got no completion: {_show(failed)}"
              if failed else "every canary request returned a completion", failure_class=FC.INFERENCE_FAILED,
              observed=len(failed), expected=0),
        check("not_degenerate", not degenerate, f"{len(degenerate)} degenerate completion(s): {_show(degenerate)}"
              if degenerate else "no degenerate completion", failure_class=FC.INFERENCE_FAILED,
              observed=len(degenerate), expected=0),
        check("specific", not vague, f"{len(vague)} completion(s) not specific to their prompt (the server does not "
              f"answer the question it is asked): {_show(vague)}" if vague
              else "every correct answer is specific to its prompt", failure_class=FC.INFERENCE_FAILED,
              observed=len(vague), expected=0),
        check("coherent", correct >= required and (correct > 0 or distinct == 0),
              f"{correct} of {distinct} canary prompt(s) answered correctly ({required} required)"
              + ("" if correct >= required else ": " + _show([r for r in table if r["status"] == "wrong_answer"])),
              failure_class=FC.INFERENCE_FAILED, observed=correct, expected=required),
    ]
    return checks, table


def decide(f: ServeFacts) -> Verdict:
    health_checks, health_ev = _health(f)
    canary_checks, table = _canary_checks(f)
    checks = [_alive(f), *health_checks, _model_listed(f), *canary_checks]
    evidence = {"server_kind": f.server_kind, "server_version": f.server_version,
                "model_requested": f.model_requested, "base_url": f.base_url, "health": health_ev,
                "models_listed": f.models_listed, "canaries": table,
                "server_exit": f.server_exit.model_dump() if f.server_exit else None,
                "log_tail": [line[:500] for line in f.log_tail[-_LOG_LINES:]]}
    ok = sum(1 for r in table if r["status"] == "ok")
    return verdict_from_checks(GATE, checks, evidence=evidence, priority=PRIORITY,
                               pass_detail=f"{f.server_kind} serves {f.model_requested!r}: healthy at "
                                           f"{health_ev['time_to_healthy_s']}s, {ok} of {len(table)} canaries "
                                           f"answered correctly")
