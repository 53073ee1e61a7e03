"""`conductor`: the command line. Exit codes are DESIGN.md's; the decision decides them.

    conductor demo                          release the embedded model with the defaults
    conductor run --model DIR --recipe fp8  a release (headless when stdout is not a terminal)
    conductor replay RUN/transcript.jsonl   re-run the gates on a record; exit 1 on a divergence
    conductor resume RUN                    continue after Ctrl-C, a crash or kill -9
    conductor transcript list|show          find and read recorded runs
    conductor gates                         the gates and what they decide
    conductor bench --base-url URL --model M   throughput + TEST04 caching audit of a live endpoint

A user error (bad flag, invalid config, unreadable file) is exit 2 with one sentence, never a
traceback; an unexpected exception is exit 5 with its message and the transcript's path.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, Sequence

from conductor.config import ConfigError, ReleaseConfig, load_config
from gates.failure_classes import EXIT_CODES, Decision

EXIT_USAGE = EXIT_CODES[Decision.CONFIG_ERROR]
EXIT_INTERNAL = EXIT_CODES[Decision.INTERNAL_ERROR]
EXIT_INTERRUPTED = EXIT_CODES[Decision.INTERRUPTED]


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


# -- wiring (the TUI uses these too) -----------------------------------------------------------------


def build_skills(config: Optional[ReleaseConfig] = None) -> list[Any]:
    try:
        from skills.registry import default_skills  # type: ignore[import-not-found]
    except ImportError as exc:
        raise CliError(f"the domain skills are not available in this installation ({exc})", EXIT_INTERNAL) from None
    return list(default_skills())


def build_provider(config: ReleaseConfig, skills: Optional[Sequence[Any]] = None) -> Any:
    name = config.resolved_provider()
    if name == "autopilot":
        from conductor.providers.autopilot import AutopilotProvider

        return AutopilotProvider(skills if skills is not None else build_skills(config))
    if name == "anthropic":
        from conductor.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(config.provider_model, base_url=config.base_url, api_key=config.api_key_value())
    raise CliError(f"provider {name!r} cannot drive a new run; use anthropic or autopilot "
                   "(replay serves recorded runs: `conductor replay`)")


def build_approver(policy_file: Optional[str]) -> Any:
    from conductor.approver import NoHumanApprover, PolicyApprover

    return PolicyApprover.from_file(policy_file) if policy_file else NoHumanApprover()


# -- arguments --------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)")


def _run_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("release")
    g.add_argument("--release", metavar="FILE", help="release YAML (flags win over it)")
    g.add_argument("--model", help="HF checkpoint directory, or embedded:smollm2-135m-instruct")
    g.add_argument("--recipe", help="fp8, int8_sq, int4_awq, nvfp4, or a recipe file")
    g.add_argument("--tasks", help="comma-separated lm-eval task names")
    g.add_argument("--threshold", type=float, help="allowed drop (fraction of the score's scale)")
    g.add_argument("--relative", action="store_true", help="the threshold is relative to the baseline score")
    g.add_argument("--calib-size", type=int, dest="calib_size")
    g.add_argument("--eval-limit", type=int, dest="eval_limit", help="samples per task")
    g.add_argument("--workspace", help="run folder (default ./runs/<run_id>)")
    a = p.add_argument_group("agent")
    a.add_argument("--provider", choices=["auto", "anthropic", "autopilot"], help="auto: anthropic with a key")
    a.add_argument("--provider-model", dest="provider_model")
    a.add_argument("--base-url", dest="base_url", help="Anthropic-compatible endpoint (self-hosted vLLM)")
    a.add_argument("--provider-max-tokens", type=int, dest="provider_max_tokens",
                   help="the agent's max_tokens per turn (default 4096)")
    _budget_flags(p)
    _output_flags(p)
    p.add_argument("--policy", metavar="FILE", help="headless approvals policy (YAML)")


def _budget_flags(p: argparse.ArgumentParser) -> None:
    b = p.add_argument_group("budgets")
    b.add_argument("--max-turns", type=int, dest="max_turns")
    b.add_argument("--max-cost", type=float, dest="max_cost_usd", help="USD")
    b.add_argument("--max-wall", type=float, dest="max_wall_s", help="seconds")
    b.add_argument("--max-stage-attempts", type=int, dest="max_stage_attempts")


def _output_flags(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("output")
    o.add_argument("--headless", action="store_true", help="no TUI (the default when stdout is not a terminal)")
    o.add_argument("--json", action="store_true", help="one JSON event per line on stdout, ending with the result")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="conductor", description="Day-0 release of quantized checkpoints, driven by an agent, "
                                               "judged by deterministic gates.",
                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_exit_codes_help())
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    for name, help_ in (("run", "run a release"), ("demo", "release the embedded model with the defaults")):
        _run_flags(sub.add_parser(name, help=help_))
    r = sub.add_parser("replay", help="re-run a transcript's gates; exit 1 on the first divergence")
    r.add_argument("transcript", help="a transcript.jsonl, or a run folder")
    r.add_argument("--threshold", type=float, help="re-gate compare at this threshold; report the new decision")
    r.add_argument("--fork-at", type=int, dest="fork_at", metavar="SEQ", help="replay up to SEQ, then continue live")
    r.add_argument("--provider", choices=["auto", "anthropic", "autopilot"], help="the live provider of a fork")
    r.add_argument("--workspace", help="the fork's run folder")
    r.add_argument("--gates", choices=["in-process", "processes"], default="in-process",
                   help="re-run each gate inside the replay (default, fast) or as its own process, as a live run does")
    r.add_argument("--accept-partial", action="store_true", dest="accept_partial",
                   help="accept a torn or truncated record (a run killed mid-way): exit 0 if what is there replays")
    r.add_argument("--json", action="store_true", help="the report as JSON")
    r.add_argument("--tui", action="store_true", help="open the transcript in the replay viewer (step, jump, re-gate)")
    rs = sub.add_parser("resume", help="continue a run from its last sealed stage")
    rs.add_argument("workspace")
    rs.add_argument("--provider", choices=["auto", "anthropic", "autopilot"])
    rs.add_argument("--policy", metavar="FILE")
    _budget_flags(rs)
    _output_flags(rs)
    t = sub.add_parser("transcript", help="list or show recorded runs")
    tsub = t.add_subparsers(dest="tcmd", parser_class=_Parser, required=True)
    tl = tsub.add_parser("list", help="the runs in a folder")
    tl.add_argument("folder", nargs="?", default="runs")
    tl.add_argument("--json", action="store_true")
    ts = tsub.add_parser("show", help="one run as a timeline")
    ts.add_argument("target", help="a transcript.jsonl or a run folder")
    ts.add_argument("--json", action="store_true")
    g = sub.add_parser("gates", help="list the gates")
    g.add_argument("--json", action="store_true")
    sub.add_parser("tui", help="open the terminal UI")
    _add_bench(sub)
    return p


def _exit_codes_help() -> str:
    rows = [f"  {code:>3}  {d.value}" for d, code in sorted(EXIT_CODES.items(), key=lambda kv: kv[1])]
    return "exit codes:\n" + "\n".join(rows) + "\n    1  (replay only) the replay diverged from the record"


def config_from_args(args: argparse.Namespace) -> ReleaseConfig:
    tasks = [t.strip() for t in args.tasks.split(",")] if getattr(args, "tasks", None) else None
    overrides = {
        "model": args.model, "recipe": args.recipe, "tasks": tasks, "threshold": args.threshold,
        "threshold_kind": "relative" if args.relative else None, "calib_size": args.calib_size,
        "workspace": args.workspace, "provider": args.provider, "provider_model": args.provider_model,
        "base_url": args.base_url, "policy_file": args.policy, "eval.limit": args.eval_limit,
        "provider_max_tokens": args.provider_max_tokens,
        **_budget_overrides(args),
    }
    return load_config(yaml_path=args.release, overrides=overrides)


def _budget_overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("max_turns", "max_cost_usd", "max_wall_s", "max_stage_attempts")
    return {f"budgets.{k}": getattr(args, k, None) for k in keys}


# -- commands -----------------------------------------------------------------------------------------


def _listeners(args: argparse.Namespace) -> list[Any]:
    from conductor.headless import HeadlessPrinter
    from conductor.redact import default_redactor

    return [HeadlessPrinter(stream=sys.stderr, json_stream=sys.stdout if args.json else None,
                            redactor=default_redactor())]


def _wants_tui(args: argparse.Namespace) -> bool:
    return not args.headless and not args.json and sys.stdout.isatty() and sys.stdin.isatty()


def cmd_run(args: argparse.Namespace) -> int:
    from conductor.session import run_session

    config = config_from_args(args)
    if _wants_tui(args):
        launched = _launch_tui(config=config)
        if launched is not None:
            return launched
    skills = build_skills(config)
    provider = build_provider(config, skills)
    approver = build_approver(config.policy_file)
    outcome = run_session(config, provider, skills, approver, listeners=_listeners(args), handle_signals=True)
    if outcome.exit_code == EXIT_USAGE:  # a configuration problem found during the run: its whole sentence
        _say(f"conductor: {outcome.reason}\n")
    return outcome.exit_code


def cmd_replay(args: argparse.Namespace) -> int:
    from conductor.replay import replay_transcript

    path = _transcript_path(args.transcript)
    if args.tui:
        from conductor.tui import launch

        return launch(transcript=path, replay=True)
    if args.fork_at is not None:
        config = load_config(overrides={"provider": args.provider or "auto"})
        skills = build_skills(config)
        report = replay_transcript(path, fork_at=args.fork_at, provider=build_provider(config, skills),
                                   skills=skills, workspace=args.workspace, listeners=_listeners(args),
                                   gate_mode=args.gates)
    else:
        report = replay_transcript(path, threshold=args.threshold, gate_mode=args.gates,
                                   accept_partial=args.accept_partial)
    _print_report(report, args.json)
    return report.exit_code


def _transcript_path(target: str) -> str:
    from pathlib import Path

    p = Path(target)
    return str(p / "transcript.jsonl") if p.is_dir() else str(p)


_PROBLEM_LABELS = {"torn": "TORN", "partial": "TORN", "hole": "HOLE", "altered": "ALTERED", "unchained": "warning"}


def _print_integrity(report: Any) -> None:
    blocking = report.blocking()
    for p in getattr(report, "integrity", []):
        label = _PROBLEM_LABELS.get(p["kind"], p["kind"])
        accepted = " (accepted: --accept-partial)" if p["kind"] != "unchained" and p not in blocking else ""
        sys.stderr.write(f"{label}: {p['detail']}{accepted}\n")


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
        return
    _print_integrity(report)
    if report.divergence is not None:
        d = report.divergence
        sys.stdout.write(json.dumps({"seq": d.seq, "expected": d.expected, "found": d.found}, default=str) + "\n")
        sys.stderr.write(f"DIVERGED at seq {d.seq}: {d.what}\n")
        return
    sys.stderr.write(f"replay: {report.detail}; decision {report.decision} (recorded {report.recorded_decision}); "
                     f"{report.gates_rerun} gate verdicts re-derived ({report.gates_mode}), "
                     f"{report.gates_kept} kept as recorded\n")
    for r in report.regated:
        sys.stderr.write(f"  re-gated {r['gate']} (seq {r['seq']}): {r['recorded']} -> {r['regated']}\n")


def cmd_resume(args: argparse.Namespace) -> int:
    from conductor.resume import load_workspace, resume_config, resume_run

    overrides = {k: v for k, v in _budget_overrides(args).items() if v is not None}
    if args.provider:
        overrides["provider"] = args.provider
    ws, _, _ = load_workspace(args.workspace)
    config = resume_config(ws, overrides)
    skills = build_skills(config)
    outcome = resume_run(args.workspace, provider=build_provider(config, skills), skills=skills,
                         approver=build_approver(args.policy), overrides=overrides, listeners=_listeners(args),
                         handle_signals=True)
    return outcome.exit_code


def cmd_transcript(args: argparse.Namespace) -> int:
    from conductor.transcript_cli import cmd_list, cmd_show

    if args.tcmd == "list":
        return cmd_list(args.folder, as_json=args.json)
    return cmd_show(args.target, as_json=args.json)


def cmd_gates(args: argparse.Namespace) -> int:
    from gates import GATE_NAMES, load_spec

    rows = []
    for name in GATE_NAMES:
        try:
            rows.append({"gate": name, "summary": load_spec(name).summary.split("\n")[0].strip(),
                         "run": f"python -m gates.{name} --help"})
        except Exception as exc:  # a gate still being written must not hide the others
            rows.append({"gate": name, "summary": f"(unavailable: {exc})", "run": ""})
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        width = max(len(r["gate"]) for r in rows)
        sys.stdout.write("\n".join(f"{r['gate'].ljust(width)}  {r['summary']}" for r in rows) + "\n")
    return 0


def _launch_tui(**kwargs: Any) -> Optional[int]:
    try:
        from conductor.tui import launch
    except ImportError:
        return None
    return int(launch(**kwargs))


def cmd_none(parser: argparse.ArgumentParser) -> int:
    if sys.stdout.isatty() and sys.stdin.isatty():
        code = _launch_tui()
        if code is not None:
            return code
        sys.stderr.write("the TUI is not available in this installation; it comes with `conductor tui`.\n")
    parser.print_help()
    return 0


COMMANDS = {"run": cmd_run, "demo": cmd_run, "replay": cmd_replay, "resume": cmd_resume,
            "transcript": cmd_transcript, "gates": cmd_gates}


# -- bench (issue 14): the perf stage alone against an endpoint; the logic is skills/perf/bench.py -------------

def _add_bench(sub: Any) -> None:
    from skills.perf.bench import add_arguments

    add_arguments(sub.add_parser("bench", help="throughput of an OpenAI-compatible endpoint, with MLPerf's "
                                               "TEST04 caching audit; exit 0 pass, 1 failed, 2 bad input"))


def cmd_bench(args: argparse.Namespace) -> int:
    from skills.perf.bench import run_bench

    return run_bench(args)


COMMANDS["bench"] = cmd_bench


def dispatch(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmd is None:
        return cmd_none(parser)
    if args.cmd == "tui":
        code = _launch_tui()
        if code is None:
            raise CliError("the TUI is not available in this installation (conductor.tui)", EXIT_INTERNAL)
        return code
    return COMMANDS[args.cmd](args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from conductor.resume import ResumeError
    from conductor.transcript import TranscriptError

    from conductor.session import LAST_TRANSCRIPT

    LAST_TRANSCRIPT.clear()
    try:
        return dispatch(argv)
    except (CliError, ConfigError, ResumeError, TranscriptError) as exc:
        _say(f"conductor: {exc}\n")
        return getattr(exc, "code", EXIT_USAGE)
    except KeyboardInterrupt:
        sys.stderr.write("conductor: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # never a traceback for the user: the message, and where to look
        _say(f"conductor: internal error: {type(exc).__name__}: {exc}\n{_where_to_look()}")
        return EXIT_INTERNAL


def _say(text: str) -> None:
    """A message on stderr, secrets redacted (a path or a value in an error may hold one)."""
    from conductor.redact import default_redactor

    sys.stderr.write(default_redactor().redact_text(text))


def _where_to_look() -> str:
    from conductor.session import LAST_TRANSCRIPT

    return f"the transcript: {LAST_TRANSCRIPT[-1]}\n" if LAST_TRANSCRIPT else ""


if __name__ == "__main__":
    raise SystemExit(main())
