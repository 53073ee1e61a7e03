"""The closed `failure_class` vocabulary: every way a stage can fail, what it means, what to do.

This module is the single source of truth. Gates emit these names in their verdicts; the
conductor's triage table maps each to its retry budget; the agent reads the meaning and the
action in the tool result it gets back. Nothing else may invent a class: the output schema of
every gate is an enum of exactly these names.

    >>> FailureClass.SIZE_NOT_REDUCED.action
    <Action.REPAIR_AND_RETRY: 'repair_and_retry'>
"""

from __future__ import annotations

from enum import Enum, IntEnum


class Action(str, Enum):
    """What a failure implies for the run."""

    RETRY_ONCE = "retry_once"  # transient: the same call again may work, once
    REPAIR_AND_RETRY = "repair_and_retry"  # the agent changes something (recipe, flags) and retries
    INFEASIBLE = "infeasible"  # this model/recipe cannot work here: stop, decision INFEASIBLE
    ASK_HUMAN = "ask_human"  # only a person may decide (or a policy file that speaks for one)
    STOP = "stop"  # the run has its answer (e.g. a regression); no retry can change it honestly


class Decision(str, Enum):
    """The run's final decision; each has one exit code (DESIGN.md, Exit codes)."""

    ACCEPT = "ACCEPT"
    REGRESSION = "REGRESSION"
    ANOMALOUS = "ANOMALOUS"
    INFEASIBLE = "INFEASIBLE"
    NEEDS_HUMAN = "NEEDS_HUMAN"
    CONFIG_ERROR = "CONFIG_ERROR"
    SYSTEMIC = "SYSTEMIC"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    INTERRUPTED = "INTERRUPTED"

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self]

    @property
    def advice(self) -> str:
        """What to do with the candidate, in one sentence (the report's recommendation line)."""
        return _WORDING[self][0]

    @property
    def why_not(self) -> str:
        """Why the candidate is not published, as a clause ("" for ACCEPT)."""
        return _WORDING[self][1]


class ExitCode(IntEnum):
    """The process exit codes of `conductor`, headless and TUI alike: one per decision, plus DIVERGED."""

    ACCEPT = 0
    DIVERGED = 1  # `conductor replay` only: the replay diverged from the record
    CONFIG_ERROR = 2
    SYSTEMIC = 3
    BUDGET_EXHAUSTED = 4
    INTERNAL_ERROR = 5
    REGRESSION = 10
    ANOMALOUS = 11
    INFEASIBLE = 12
    NEEDS_HUMAN = 13
    INTERRUPTED = 130


EXIT_CODES: dict[Decision, ExitCode] = {d: ExitCode[d.value] for d in Decision}

# decision -> (advice, why not to publish)
_WORDING: dict[Decision, tuple[str, str]] = {
    Decision.ACCEPT: ("Publish: every gate passed and every task is within the threshold.", ""),
    Decision.REGRESSION: ("Do not publish: the candidate is outside the threshold on some task.",
                          "the candidate drops beyond the threshold"),
    Decision.ANOMALOUS: ("Hold: the results cannot be trusted either way; a person must review the evidence.",
                         "the results cannot be trusted either way; a person must review the evidence first"),
    Decision.INFEASIBLE: ("Do not publish: this model and recipe cannot work here (see the reason).",
                          "this model and recipe cannot be released on this machine"),
    Decision.NEEDS_HUMAN: ("Waiting on a person: a decision only a human may take was not answered.",
                           "a decision only a person may take was not answered"),
    Decision.CONFIG_ERROR: ("Fix the configuration and run again.", "the release configuration is invalid"),
    Decision.SYSTEMIC: ("Infrastructure failed after its retries; run again when it is healthy.",
                        "the infrastructure failed after its retries"),
    Decision.BUDGET_EXHAUSTED: ("A budget ran out before a decision; raise it or resume the run.",
                                "a budget ran out before the chain reached a decision"),
    Decision.INTERNAL_ERROR: ("The conductor itself failed; the transcript holds the details.",
                              "the conductor itself failed"),
    Decision.INTERRUPTED: ("Interrupted; the transcript is closed and the run can be resumed.",
                           "the run was interrupted before a decision"),
}
assert set(_WORDING) == set(Decision), "every decision needs its wording"


class FailureClass(str, Enum):
    """Closed vocabulary. `meaning`, `action`, `emitted_by` and `terminal_decision` are below."""

    # upstream set
    INFRA_TRANSIENT = "INFRA_TRANSIENT"
    MODEL_UNSUPPORTED = "MODEL_UNSUPPORTED"
    QUANT_COVERAGE_FAILURE = "QUANT_COVERAGE_FAILURE"
    SIZE_NOT_REDUCED = "SIZE_NOT_REDUCED"
    CHECKPOINT_NOT_SERVABLE = "CHECKPOINT_NOT_SERVABLE"
    DEPLOYMENT_HEALTH_FAILED = "DEPLOYMENT_HEALTH_FAILED"
    EVAL_JUDGE_FAILED = "EVAL_JUDGE_FAILED"
    SAMPLE_ACCOUNTING_FAILED = "SAMPLE_ACCOUNTING_FAILED"
    EXTERNAL_BASELINE_MISMATCH = "EXTERNAL_BASELINE_MISMATCH"
    VERBOSITY_EXCEEDED = "VERBOSITY_EXCEEDED"
    USER_CONFIG_ERROR = "USER_CONFIG_ERROR"
    UNKNOWN = "UNKNOWN"
    # this project
    INFERENCE_FAILED = "INFERENCE_FAILED"
    REPORTED_MISMATCH = "REPORTED_MISMATCH"
    INDETERMINATE = "INDETERMINATE"
    CACHING_DETECTED = "CACHING_DETECTED"
    GATE_ERROR = "GATE_ERROR"
    ACCURACY_REGRESSION = "ACCURACY_REGRESSION"
    ANOMALOUS_GAIN = "ANOMALOUS_GAIN"
    COMPARISON_NOT_LIKE_FOR_LIKE = "COMPARISON_NOT_LIKE_FOR_LIKE"
    HARDWARE_UNAVAILABLE = "HARDWARE_UNAVAILABLE"
    SKILL_FAILED = "SKILL_FAILED"
    DISTRIBUTION_DRIFT = "DISTRIBUTION_DRIFT"

    @property
    def meaning(self) -> str:
        return _INFO[self][0]

    @property
    def action(self) -> Action:
        return _INFO[self][1]

    @property
    def emitted_by(self) -> tuple[str, ...]:
        return _INFO[self][2]

    @property
    def terminal_decision(self) -> Decision:
        """The decision a run ends with when this class is final (budget spent or no retry)."""
        return _INFO[self][3]


_D = Decision
_A = Action
# class -> (meaning, action, emitted by, decision when it ends the run)
_INFO: dict[FailureClass, tuple[str, Action, tuple[str, ...], Decision]] = {
    FailureClass.INFRA_TRANSIENT: (
        "Infrastructure hiccup (connection refused mid-run, a run still RUNNING, a timeout, a process killed by a "
        "signal the conductor did not send): the same call may succeed.",
        _A.RETRY_ONCE, ("serve", "eval_run", "compare", "perf", "conductor"), _D.SYSTEMIC),
    FailureClass.MODEL_UNSUPPORTED: (
        "The recipe quantized nothing in this model (no module matched, nothing stored quantized and nothing "
        "declared): this model/recipe pair is not supported.",
        _A.INFEASIBLE, ("ptq",), _D.INFEASIBLE),
    FailureClass.QUANT_COVERAGE_FAILURE: (
        "Some layers the recipe should cover are stored unquantized or in the wrong format (scales NaN, negative or "
        "all zero, weights all zero included), or the declared quantization or loader disagrees with the tensors.",
        _A.REPAIR_AND_RETRY, ("ptq",), _D.INFEASIBLE),
    FailureClass.SIZE_NOT_REDUCED: (
        "The quantized checkpoint's weights are not smaller than the source's (beyond the documented allowance).",
        _A.REPAIR_AND_RETRY, ("ptq",), _D.INFEASIBLE),
    FailureClass.CHECKPOINT_NOT_SERVABLE: (
        "Files a server needs are missing or unreadable, the export's config or tokenizer (vocabulary, special "
        "tokens, chat template, generation defaults) differs from the source's, or no server available here can "
        "load this checkpoint.",
        _A.REPAIR_AND_RETRY, ("ptq", "serve", "conductor"), _D.INFEASIBLE),
    FailureClass.DEPLOYMENT_HEALTH_FAILED: (
        "The server never became healthy within its ceiling, or does not list the model it was asked to serve.",
        _A.REPAIR_AND_RETRY, ("serve",), _D.SYSTEMIC),
    FailureClass.EVAL_JUDGE_FAILED: (
        "The scorer could not parse or judge the responses (answer extraction failed for too many samples).",
        _A.REPAIR_AND_RETRY, ("eval_run", "compare"), _D.ANOMALOUS),
    FailureClass.SAMPLE_ACCOUNTING_FAILED: (
        "Samples scored (or load-test queries completed) differ from those expected, counts are missing, or the "
        "per-sample records cannot be trusted (corrupt, a document counted twice, a value outside its metric's "
        "domain, a score that cannot be re-derived): the figure covers an unknown subset (compare: a side's run "
        "fails eval_run's accounting, or its run facts are not carried; verbosity: a side's run is incomplete; "
        "audit: the sides' requests differ per document).",
        _A.REPAIR_AND_RETRY, ("eval_run", "compare", "verbosity", "audit", "perf"), _D.ANOMALOUS),
    FailureClass.EXTERNAL_BASELINE_MISMATCH: (
        "Our baseline score does not reproduce the reference score declared for it: the evaluation setup is suspect.",
        _A.ASK_HUMAN, ("compare",), _D.ANOMALOUS),
    FailureClass.VERBOSITY_EXCEEDED: (
        "The candidate's average completion length differs from the baseline's by more than the allowed fraction.",
        _A.STOP, ("verbosity",), _D.REGRESSION),
    FailureClass.USER_CONFIG_ERROR: (
        "The input or configuration is invalid (unreadable JSON, schema violation, NaN, wrong type, unknown field, "
        "free-form values nested or sized beyond their bounds, scores that contradict their own run facts).",
        _A.STOP, ("ptq", "serve", "eval_run", "compare", "verbosity", "audit", "perf", "fidelity", "conductor"),
        _D.CONFIG_ERROR),
    FailureClass.UNKNOWN: (
        "A failure the vocabulary does not name (a terminal status nobody recognises): a person must look.",
        _A.ASK_HUMAN, ("eval_run", "compare", "conductor"), _D.NEEDS_HUMAN),
    FailureClass.INFERENCE_FAILED: (
        "The model did not generate sense: every response empty or errored, generation raised, or the canary got no "
        "completion, a degenerate one, or answers not specific to their prompts (one text for every question) "
        "(compare: on a side's run; verbosity: the baseline generated no tokens).",
        _A.REPAIR_AND_RETRY, ("serve", "eval_run", "compare", "verbosity", "perf", "fidelity"), _D.INFEASIBLE),
    FailureClass.REPORTED_MISMATCH: (
        "The score a tool reported disagrees with the score re-derived from its own per-sample records.",
        _A.ASK_HUMAN, ("eval_run", "compare", "perf"), _D.ANOMALOUS),
    FailureClass.INDETERMINATE: (
        "The noise (stderr of the difference, or the spread of repeated throughput runs) is too large to tell a "
        "threshold-sized difference from chance (more samples needed), a gain above the anomalous limit is within "
        "the noise of it, or a relative threshold on a near-zero baseline allows less than one document's change.",
        _A.ASK_HUMAN, ("compare", "perf", "fidelity"), _D.ANOMALOUS),
    FailureClass.CACHING_DETECTED: (
        "The candidate's results look served from a cache (identical to the baseline's, or an eval cache was used), "
        "or a served endpoint answers one repeated prompt meaningfully faster than distinct ones (MLPerf TEST04), "
        "or prefix caching was on during that audit.",
        _A.REPAIR_AND_RETRY, ("audit", "perf", "fidelity"), _D.ANOMALOUS),
    FailureClass.GATE_ERROR: (
        "A gate crashed, timed out, printed output that violates its schema, or could not serialise its verdict: "
        "the gate fails closed.",
        _A.RETRY_ONCE, ("conductor", "gates"), _D.INTERNAL_ERROR),
    FailureClass.ACCURACY_REGRESSION: (
        "The candidate drops by more than the threshold on at least one task.",
        _A.STOP, ("compare",), _D.REGRESSION),
    FailureClass.ANOMALOUS_GAIN: (
        "The candidate gains implausibly much (more than 0.05 of scale, beyond the noise), or a score lies outside its "
        "declared scale.",
        _A.ASK_HUMAN, ("compare",), _D.ANOMALOUS),
    FailureClass.COMPARISON_NOT_LIKE_FOR_LIKE: (
        "Baseline and candidate differ in task set, evaluation settings (backend, few-shot, limit, generation) or "
        "matched documents, or are the same model (or a side's identity is unknown): not a comparison; or two "
        "load-test phases cannot be compared (prompts not as TEST04 requires, output lengths differ).",
        _A.REPAIR_AND_RETRY, ("compare", "perf", "fidelity"), _D.ANOMALOUS),
    FailureClass.HARDWARE_UNAVAILABLE: (
        "The recipe or server needs hardware this machine lacks (e.g. NVFP4 needs a CUDA GPU).",
        _A.INFEASIBLE, ("skills", "conductor"), _D.INFEASIBLE),
    FailureClass.SKILL_FAILED: (
        "A skill exited with an error that no more specific class describes; its log tail is the evidence.",
        _A.REPAIR_AND_RETRY, ("conductor",), _D.SYSTEMIC),
    FailureClass.DISTRIBUTION_DRIFT: (
        "On held-out text the candidate's next-token distributions depart from the baseline's beyond the fidelity "
        "thresholds (KL divergence, top-1 agreement, log-likelihood), or too many multiple-choice answers changed.",
        _A.STOP, ("fidelity",), _D.REGRESSION),
}

assert set(_INFO) == set(FailureClass), "every failure class needs its meaning, action, emitter and decision"

ALL: tuple[str, ...] = tuple(fc.value for fc in FailureClass)


def describe(fc: FailureClass | str) -> dict[str, object]:
    """A JSON-ready description, as the agent sees it in a tool result."""
    fc = FailureClass(fc)
    return {
        "failure_class": fc.value,
        "meaning": fc.meaning,
        "action": fc.action.value,
        "terminal_decision": fc.terminal_decision.value,
    }
