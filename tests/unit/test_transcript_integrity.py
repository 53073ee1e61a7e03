"""Items 20 and 21: replay says when a record is torn, truncated, holed or altered, and where.

Torn and truncated records are made from the curated transcripts in transcripts/ (real runs, version 1,
and loop-recorded ones, version 2); altered ones from fresh runs of the loop. Without
--accept-partial a torn record is exit 1; a broken hash chain is exit 1 whatever the flags.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conductor import chain, cli
from conductor.approver import NoHumanApprover
from conductor.replay import replay_transcript
from conductor.session import run_session
from conductor.stages import plan_stages
from conductor.transcript import TranscriptWriter, read_transcript
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill

pytestmark = pytest.mark.timeout(120)
TRANSCRIPTS = Path(__file__).resolve().parents[2] / "transcripts"
CURATED = sorted(p for p in TRANSCRIPTS.glob("*.jsonl") if not p.with_suffix(".seq").exists())
V1 = [p for p in CURATED if json.loads(p.open().readline())["schema_version"] == 1]
V2 = [p for p in CURATED if json.loads(p.open().readline())["schema_version"] == 2]
REAL_COMPARE = {"baseline": {"settings": {"backend": "hf"},
                             "tasks": {"t1": {"score": 0.60, "stderr": 0.005, "samples": 2000, "scale": "unit"}}},
                "candidate": {"settings": {"backend": "hf"},
                              "tasks": {"t1": {"score": 0.595, "stderr": 0.005, "samples": 2000, "scale": "unit"}}},
                "threshold": {"kind": "absolute", "value": 0.02}}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _kinds(rep) -> list[str]:
    return [p["kind"] for p in rep.integrity if p["kind"] != "unchained"]


def test_the_curated_transcripts_are_whole_and_the_loop_recorded_ones_chained():
    assert V1 and V2, "both versions must be among the curated transcripts"
    assert {p.name for p in V1} == {"demo_smollm2_fp8_cpu.jsonl", "real_nvfp4_cpu_infeasible.jsonl"}
    for path in CURATED:
        t = read_transcript(path)
        assert t.tamper_evident == (path in V2) and t.chain_break is None, path.name
        rep = replay_transcript(path)
        assert _kinds(rep) == [] and rep.exit_code == 0, (path.name, rep.integrity)
        unchained = [p for p in rep.integrity if p["kind"] == "unchained"]
        assert bool(unchained) == (path in V1), path.name  # a version-1 record: a warning, not a failure


# -- item 20: torn and truncated records -----------------------------------------------------------


@pytest.mark.parametrize("path", CURATED, ids=[p.name for p in CURATED])
def test_a_torn_last_line_is_reported_and_fails_unless_accepted(path, tmp_path):
    lines = _lines(path)
    last = lines[-1]
    torn = _write(tmp_path / path.name, lines[:-1] + [last[: len(last) // 2]])
    rep = replay_transcript(torn)
    assert rep.exit_code == 1 and rep.divergence is None, rep.detail
    problems = {p["kind"]: p for p in rep.integrity}
    assert problems["torn"]["line"] == len(lines) and f"line {len(lines)} is incomplete" in problems["torn"]["detail"]
    assert "partial" in problems and "torn" in rep.detail and "--accept-partial" in rep.detail
    ok = replay_transcript(torn, accept_partial=True)
    assert ok.exit_code == 0 and ok.divergence is None, ok.detail


@pytest.mark.parametrize("path", CURATED, ids=[p.name for p in CURATED])
def test_a_record_cut_in_the_middle_is_reported_where_it_ends(path, tmp_path):
    lines = _lines(path)
    keep = len(lines) // 2
    cut = _write(tmp_path / path.name, lines[:keep])
    last_seq = json.loads(lines[keep - 1])["seq"]
    rep = replay_transcript(cut)
    assert rep.exit_code == 1, rep.detail
    partial = next(p for p in rep.integrity if p["kind"] == "partial")
    assert partial["seq"] == last_seq and f"after seq {last_seq}" in partial["detail"]
    assert "before its closing events" in partial["detail"]
    assert replay_transcript(cut, accept_partial=True).exit_code == 0


@pytest.mark.parametrize("path", CURATED, ids=[p.name for p in CURATED])
def test_a_line_missing_in_the_middle_is_found(path, tmp_path):
    """Remove the first skill_finished (its seq is then missing): a version-1 record shows a hole in its
    structure (accepted only with --accept-partial); a version-2 record a broken chain (never accepted)."""
    lines = _lines(path)
    k = next(i for i, line in enumerate(lines) if json.loads(line).get("type") == "skill_finished")
    seq = json.loads(lines[k])["seq"]
    holed = _write(tmp_path / path.name, lines[:k] + lines[k + 1:])
    rep = replay_transcript(holed)
    assert rep.exit_code == 1
    if path in V2:
        altered = next(p for p in rep.integrity if p["kind"] == "altered")
        assert altered["line"] == k + 1 and not altered["acceptable"]  # the line after the gap
        assert replay_transcript(holed, accept_partial=True).exit_code == 1
    else:
        hole = next(p for p in rep.integrity if p["kind"] == "hole")
        assert hole["seq"] < seq and "never finished" in hole["detail"], hole


def test_every_single_missing_line_of_a_real_record_is_found(tmp_path):
    """The version-1 records have no chain: their structure alone must show any one line removed."""
    for path in V1:
        lines = _lines(path)
        for k in range(1, len(lines)):
            holed = _write(tmp_path / "holed.jsonl", lines[:k] + lines[k + 1:])
            from conductor.integrity import check_record

            found = [p for p in check_record(read_transcript(holed)) if p.kind != "unchained"]
            assert found, (path.name, k, json.loads(lines[k])["type"])


def test_the_cli_says_torn_and_where_and_accepts_a_partial_record_on_request(tmp_path, capsys):
    path = next(p for p in V2)
    lines = _lines(path)
    torn = _write(tmp_path / "torn.jsonl", lines[:-1] + [lines[-1][:20]])
    assert cli.main(["replay", str(torn)]) == 1
    err = capsys.readouterr().err
    assert f"TORN: the record is torn: line {len(lines)} is incomplete" in err
    assert cli.main(["replay", "--accept-partial", str(torn)]) == 0
    err = capsys.readouterr().err
    assert "(accepted: --accept-partial)" in err and "no divergence" in err
    assert cli.main(["replay", str(V1[0])]) == 0
    assert "warning: this record is schema_version 1" in capsys.readouterr().err


# -- item 21: tamper evidence ----------------------------------------------------------------------


def _real_gate_run(tmp_path: Path) -> Path:
    """A run whose compare gate is the real one (its verdict echoes the facts in its evidence)."""
    skills = [FakeSkill("compare", [{"facts": REAL_COMPARE}])]
    plan = plan_stages({"compare": ["compare"]}, {"compare": ["compare"]})
    out = run_session(H.config(tmp_path), H.operator_script(skills), skills, NoHumanApprover(), plan=plan)
    assert out.decision == "ACCEPT", out.reason
    return Path(out.transcript)


def _edit(src: Path, dst: Path, change, rechain: bool) -> int:
    """Change the first gate verdict's facts; with rechain, recompute every hash after it (a forger
    who knows the scheme). Returns the seq changed."""
    rows = [json.loads(line) for line in _lines(src)]
    k = next(i for i, r in enumerate(rows) if r.get("type") == "gate_verdict")
    change(rows[k]["facts"])
    if rechain:
        prev = rows[k - 1]["hash"]
        for r in rows[k:]:
            r["hash"] = chain.link(prev, r)
            prev = r["hash"]
    dst.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows[k]["seq"]


def _lower_candidate(facts):
    facts["candidate"]["tasks"]["t1"]["score"] = 0.59  # still within the 0.02 threshold: the verdict passes


def test_each_line_is_chained_as_the_schema_says(tmp_path):
    path = _real_gate_run(tmp_path)
    rows = [json.loads(line) for line in _lines(path)]
    assert rows[0]["schema_version"] == 2
    prev = ""
    for r in rows:
        body = {k: v for k, v in r.items() if k != "hash"}
        import hashlib

        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert r["hash"] == hashlib.sha256((prev + text).encode()).hexdigest()
        prev = r["hash"]


def test_a_changed_fact_that_keeps_the_verdict_breaks_the_chain(tmp_path):
    path = _real_gate_run(tmp_path / "run")
    bad = tmp_path / "bad.jsonl"
    seq = _edit(path, bad, _lower_candidate, rechain=False)
    t = read_transcript(bad)
    assert t.chain_break is not None and t.chain_break.seq == seq
    assert any(f"seq {seq}" in w for w in t.warnings)
    rep = replay_transcript(bad, accept_partial=True)
    assert rep.exit_code == 1
    altered = next(p for p in rep.integrity if p["kind"] == "altered")
    assert altered["seq"] == seq and "hash chain breaks" in altered["detail"]


def test_a_forged_chain_is_still_caught_by_the_whole_verdict(tmp_path):
    """The forger recomputes every hash: the chain holds, but the very same gates, deciding on the
    changed facts, give a verdict whose evidence is not the recorded one."""
    path = _real_gate_run(tmp_path / "run")
    bad = tmp_path / "forged.jsonl"
    seq = _edit(path, bad, _lower_candidate, rechain=True)
    assert read_transcript(bad).chain_break is None
    rep = replay_transcript(bad)
    assert rep.divergence is not None and rep.divergence.seq == seq and rep.exit_code == 1
    assert "evidence" in rep.divergence.what or "detail" in rep.divergence.what, rep.divergence.what


def test_in_its_run_folder_a_forged_fact_is_caught_by_collecting_again(tmp_path):
    """A fake gate echoes no number: only collecting the facts again from the run folder shows that
    the recorded drop is not the one the artifacts hold."""
    skills = [FakeSkill("quantize"), FakeSkill("compare", [{"facts": {"drop": 0.002, "threshold": 0.01}}])]
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    path = r.workspace.transcript_path
    clean = replay_transcript(path)
    assert clean.exit_code == 0 and clean.facts_recollected == 2, (clean.detail, clean.notes)
    original = tmp_path / "original.jsonl"
    shutil.copy(path, original)
    rows = [json.loads(line) for line in _lines(original)]
    k = [i for i, row in enumerate(rows) if row.get("type") == "gate_verdict"][-1]
    rows[k]["facts"]["drop"] = 0.003  # still a pass; the fake verdict does not echo it
    prev = rows[k - 1]["hash"]
    for row in rows[k:]:
        row["hash"] = chain.link(prev, row)
        prev = row["hash"]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elsewhere = replay_transcript(shutil.copy(path, tmp_path / "copy.jsonl"))
    assert elsewhere.exit_code == 0  # out of its folder, nothing can show it (the limit of a forged chain)
    rep = replay_transcript(path)
    assert rep.divergence is not None and rep.divergence.seq == rows[k]["seq"]
    assert rep.divergence.expected == {"fact": "facts.drop", "recorded": 0.003}
    assert rep.divergence.found == {"fact": "facts.drop", "collected": 0.002}


def test_a_resumed_record_continues_the_chain(tmp_path):
    from tests.eventfactory import header
    from conductor import events as E

    path = tmp_path / "t.jsonl"
    with TranscriptWriter(path, header()) as w:
        w(E.Warning_(seq=1, ts="2026-01-01T00:00:00.000Z", message="one"))
    with open(path, "a") as fh:
        fh.write('{"seq": 2, "type": "warn')  # killed mid-write
    with TranscriptWriter(path, header(), resume=True) as w:
        w(E.Warning_(seq=2, ts="2026-01-01T00:00:01.000Z", message="two"))
    t = read_transcript(path)
    assert t.tamper_evident and t.chain_break is None and not t.torn
    assert [e.message for e in t.events] == ["one", "two"]


def test_a_version_1_record_resumes_without_a_chain(tmp_path):
    path = tmp_path / "v1.jsonl"
    shutil.copy(V1[0], path)
    from tests.eventfactory import header
    from conductor import events as E

    last = read_transcript(path).events[-1].seq
    with TranscriptWriter(path, header(), resume=True) as w:
        w(E.Warning_(seq=last + 1, ts="2026-01-01T00:00:00.000Z", message="after"))
    t = read_transcript(path)
    assert not t.tamper_evident and t.events[-1].message == "after"
    assert "hash" not in _lines(path)[-1]


def test_a_run_whose_record_was_altered_is_not_resumed(tmp_path):
    from conductor.resume import ResumeError, resume_run
    from conductor.steering import Steering
    from conductor.providers.scripted import ScriptedProvider, tool_use

    steering = Steering()

    def respond(req):
        if req.stage == "compare":
            steering.abort("stop here")
        return tool_use(req.stage, {})

    skills = [FakeSkill("quantize"), FakeSkill("compare")]
    r = H.run(tmp_path, skills, ScriptedProvider(respond), steering=steering)
    assert r.decision == "INTERRUPTED"
    path = r.workspace.transcript_path
    text = path.read_text()
    path.write_text(text.replace('"recipe":"fp8"', '"recipe":"int8_sq"', 1))
    with pytest.raises(ResumeError, match="was altered after it was written"):
        resume_run(str(r.workspace.root), provider=H.operator_script(skills), skills=skills,
                   approver=NoHumanApprover(), gate_prefix=H.FAKE_GATES)


def test_lines_are_written_canonical_with_the_hash_last_and_checked_either_way(tmp_path):
    path = _real_gate_run(tmp_path / "run")
    lines = _lines(path)
    for line in lines:
        row = json.loads(line)
        body = {k: v for k, v in row.items() if k != "hash"}
        assert list(row)[-1] == "hash" and line.rstrip("\n").startswith(chain.canonical(body).decode()[:-1])
    # the same content in another key order and spacing (a tool rewrote the file): the chain still holds
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(json.dumps(dict(reversed(list(json.loads(x).items()))), indent=None) + "\n"
                                for x in lines))
    t = read_transcript(shuffled)
    assert t.tamper_evident and t.chain_break is None
