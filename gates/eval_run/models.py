"""Facts the eval_run gate decides on: one lm-eval run, task by task, re-derived from its logs.

These models are also what `compare`, `verbosity` and `audit` collect through
(`gates.eval_run.collect.collect_run`), so the shape is shared on purpose.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from gates.contract import StrictModel

# KILLED: ended by a signal the conductor did not send; ERROR: FAILED as other runners spell it
RunStatus = Literal["SUCCESS", "FAILED", "ERROR", "KILLED", "RUNNING", "PENDING", "TIMEOUT", "CANCELLED",
                    "UNKNOWN"]
OutputType = Literal["loglikelihood", "multiple_choice", "generate_until", "loglikelihood_rolling"]
Scale = Literal["unit", "percent"]


class EvalSettings(StrictModel):
    """What must be identical between baseline and candidate for a like-for-like comparison."""

    backend: str = Field(description="lm-eval model type: hf, local-completions, local-chat-completions, ...")
    lm_eval_version: Optional[str] = None
    limit: Optional[float] = Field(default=None, ge=0, description="lm-eval --limit (count or fraction)")
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    system_instruction: Optional[str] = None
    gen_kwargs: Optional[dict[str, Any]] = Field(default=None, description="generation settings applied to generative tasks")
    seed: Optional[list[Optional[int]]] = None


TokenCountMethod = Literal["tokenizer", "whitespace"]


class TaskRun(StrictModel):
    """One lm-eval task (a leaf task; groups are not tasks here), re-derived from its per-sample log."""

    output_type: OutputType
    primary_metric: str = Field(min_length=1, description="the metric the score is (acc, exact_match, ...)")
    primary_filter: str = Field(default="none", min_length=1,
                                description="the filter whose lines and score are the task's (first of filter_list)")
    higher_is_better: bool = True
    expected_higher_is_better: Optional[bool] = Field(
        default=None, description="the metric's direction by definition (acc up, perplexity down); None = not known")
    aggregation: Optional[str] = Field(
        default=None, description="lm-eval's aggregation of the per-sample values: mean, or a corpus-level one "
                                  "(f1, matthews_corrcoef, bleu, perplexity, weighted_perplexity, bits_per_byte...); "
                                  "None = it cannot be told")
    scale: Optional[Scale] = Field(default=None, description="declared score scale; None = not declared")
    score_range: Optional[list[Optional[float]]] = Field(
        default=None, min_length=2, max_length=2,
        description="[low, high] the score lies in by definition (high null = unbounded); None = not known")
    num_fewshot: Optional[int] = Field(default=None, ge=0)
    samples_expected: Optional[int] = Field(default=None, ge=0, description="dataset size, or the limit")
    samples_expected_by_limit: Optional[int] = Field(
        default=None, ge=0, description="what lm-eval evaluates given n-samples original (the dataset) and --limit: "
                                        "the dataset, ceil(limit * dataset) for a fraction, else min(limit, dataset)")
    samples_outside_range: int = Field(
        default=0, ge=0, description="documents whose doc_id is not among 0 .. expected-1 (lm-eval numbers a task's "
                                     "documents from 0, and --limit takes the first ones)")
    samples_scored: Optional[int] = Field(default=None, ge=0,
                                          description="parseable lines of the primary filter in the per-sample log")
    samples_corrupt: int = Field(default=0, ge=0, description="unparseable lines in the per-sample log, or lines "
                                                             "not shaped as lm-eval writes them (unknown keys)")
    samples_duplicated: int = Field(
        default=0, ge=0,
        description="primary-filter lines repeating a document (doc_id compared canonically: 5, 5.0, \"5\" are one)")
    samples_bad_doc_id: int = Field(default=0, ge=0,
                                    description="lines (any filter) whose doc_id is not a non-negative JSON integer")
    samples_hash_mismatch: int = Field(
        default=0, ge=0, description="lines (any filter) whose doc, prompt or target no longer hash to the doc_hash, "
                                     "prompt_hash, target_hash lm-eval wrote: edited after the run")
    filter_lines: dict[str, int] = Field(
        default_factory=dict,
        description="lines per filter in the per-sample log (each filter has every document once)")
    known_filters: Optional[list[str]] = Field(
        default=None, description="the filters the task's config defines ('none' without a filter_list)")
    samples_rescored: int = Field(default=0, ge=0, description="lines whose metric value was re-derived from the "
                                                               "model's own recorded response (rescore.py)")
    samples_rescore_mismatch: int = Field(default=0, ge=0, description="... whose recorded value disagrees with it")
    rescore_note: Optional[str] = Field(default=None, description="why the values are not re-scored, if they are not")
    samples_duplicated_other_filters: int = Field(
        default=0, ge=0, description="lines of the other filters repeating a document of their own filter")
    samples_out_of_domain: int = Field(default=0, ge=0,
                                       description="per-sample values outside the metric's domain (metric_domain)")
    metric_domain: Optional[str] = Field(default=None, description="the per-sample domain checked ({0, 1}, [0, 1], "
                                                                   "...); None = any finite number")
    samples_without_metric: int = Field(default=0, ge=0,
                                        description="primary-filter lines with no finite numeric value of the metric")
    reported_sample_len: Optional[int] = Field(default=None, ge=0, description="lm-eval's own sample_len")
    samples_file: Optional[str] = Field(default=None, description="the per-sample log read (relative to the run)")
    reported_score: Optional[float] = Field(default=None, description="the score lm-eval reported")
    reported_score_raw: Optional[str] = Field(
        default=None, description="the reported value as written, when it is not a finite number (e.g. 'N/A')")
    reported_stderr: Optional[float] = Field(default=None, ge=0)
    reported_stderr_raw: Optional[str] = Field(
        default=None, description="the reported stderr as written, when it is not a finite number (e.g. 'N/A')")
    rederived_score: Optional[float] = Field(
        default=None, description="the task's aggregation (a mean, or lm-eval's corpus-level function) of the "
                                  "per-sample log")
    rederived_stderr: Optional[float] = Field(
        default=None, ge=0, description="as lm-eval computes it: sample standard deviation / sqrt(n) for a mean "
                                        "(mean_stderr), its bootstrap for a corpus-level aggregate")
    rederive_note: Optional[str] = Field(default=None, description="why the score (or its stderr) could not be "
                                                                   "re-derived")
    stderr_method: Optional[Literal["mean_stderr", "bootstrap"]] = Field(
        default=None, description="how rederived_stderr was computed: lm-eval's mean_stderr, or its bootstrap")
    bootstrap_replicates: Optional[int] = Field(default=None, ge=2, description="bootstrap replicates drawn here")
    lmeval_bootstrap_replicates: Optional[int] = Field(
        default=None, ge=1, description="the replicates lm-eval drew for its reported stderr (None: it drew none)")
    lmeval_computes_stderr: Optional[bool] = Field(
        default=None, description="lm-eval writes a number for this stderr (config.bootstrap_iters > 0, more than one "
                                  "sample, a mean or an aggregation it bootstraps), not 'N/A'; None = not known")
    stderr_rel_se: Optional[float] = Field(
        default=None, ge=0, description="relative standard error of the bootstrapped stderr (from its replicates' "
                                        "kurtosis): the tolerance when lm-eval drew more replicates than this gate")
    responses_total: int = Field(default=0, ge=0, description="samples (documents) of the primary filter")
    responses_empty: int = Field(default=0, ge=0, description="samples whose every completion is blank")
    responses_errored: int = Field(
        default=0, ge=0, description="samples with a null / error-marker response or a non-finite log-likelihood")
    extraction_failed: int = Field(default=0, ge=0, description="samples whose answer the scorer could not extract")
    avg_completion_tokens: Optional[float] = Field(default=None, ge=0, description="generative tasks only")
    token_count_method: Optional[TokenCountMethod] = Field(
        default=None, description="how avg_completion_tokens counted: the model's tokenizer, or whitespace words")
    generation_kwargs: Optional[dict[str, Any]] = None


class EvalRunFacts(StrictModel):
    run_status: RunStatus = Field(description="terminal status of the run as its runner recorded it")
    status_source: Optional[Literal["run_record", "inferred"]] = Field(
        default=None, description="run.json said so, or inferred from the files (results present -> SUCCESS)")
    exit_code: Optional[int] = None
    error: Optional[str] = Field(default=None, description="the runner's error message, if any")
    model_identity: Optional[str] = Field(default=None, description="what was evaluated (path or served name)")
    used_cache: Optional[bool] = Field(default=None, description="lm-eval --use_cache was on")
    settings: Optional[EvalSettings] = None
    results_file: Optional[str] = Field(default=None, description="the results file read (relative to the run)")
    results_files_found: int = Field(default=0, ge=0, description="results files in the run (the newest is read)")
    results_error: Optional[str] = Field(default=None, description="why the results file could not be read")
    tasks: dict[str, TaskRun] = Field(default_factory=dict)
    task_errors: dict[str, str] = Field(
        default_factory=dict, description="tasks in the results that could not be read into facts, and why")
    max_extraction_failure_fraction: float = Field(default=0.1, ge=0, le=1)
    max_failed_response_fraction: float = Field(
        default=0.5, ge=0, le=1,
        description="a larger fraction of empty or errored samples in a task is INFERENCE_FAILED (all of them always is)")
    max_reported_mismatch: float = Field(default=1e-6, ge=0, description="tolerance, in the score's own units")
