"""lm-eval's own CLI, run in this process with three small additions:

    python skills/common/launch.py skills.evaluate.lmeval_main [--also-include DIR ...] -- run --model hf ...

1. Progress: tqdm redraws its bar with carriage returns, which a line reader sees only when the bar
   closes; here stderr turns each "\\r" into a line break (and TQDM_MININTERVAL defaults to 5 s), so
   the evaluate runner can turn lm-eval's bars into `PROGRESS` lines as they move.
2. `--also-include DIR`: task directories beyond the CLI's single --include_path.
3. Simulated quantization: an `hf` run whose model_args carry `simulated_state=PATH` builds its model
   with skills.quantize.simulated.load_simulated_model(PATH, source=pretrained, dtype) instead of
   from_pretrained(pretrained). Everything else (HFLM, tokenizer, batching, the tracker and the
   output layout) is lm-eval's, exactly as for the baseline, so both sides are like for like. The
   model_args (results_*.json -> config.model_args) say `simulated_state=...`: the run states what
   it evaluated. Without that key nothing is patched in behaviour. With `simulated_export=EXPORT`
   too, the export's tensors are first compared with the simulated model (skills/evaluate/fidelity.py,
   result in ./fidelity.json): an export that does not hold the evaluated weights stops the run
   before any score exists.

The arguments after `--` are lm-eval's, unchanged; the exit code is lm-eval's.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, Optional

SIMULATED_KEY = "simulated_state"
EXPORT_KEY = "simulated_export"  # the export the simulated model must match (skills/evaluate/fidelity.py)
FIDELITY_FILE = "fidelity.json"  # written in the working directory (the evaluate attempt's folder)


class _LineBreaks(io.TextIOBase):
    """A text stream that writes "\\r" as "\\n" (tqdm bars become lines), line-buffered."""

    def __init__(self, inner: Any):
        self._inner = inner

    def write(self, s: str) -> int:
        out = s.replace("\r\n", "\n").replace("\r", "\n")
        if "\r" in s and not out.endswith("\n"):
            out += "\n"  # a redrawn bar is complete now: end its line so a reader sees it at once
        self._inner.write(out)
        if "\n" in out:
            self._inner.flush()
        return len(s)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

    def fileno(self) -> int:
        return self._inner.fileno()


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in argv:
        return [], argv
    i = argv.index("--")
    return argv[:i], argv[i + 1:]


def _ours(argv: list[str]) -> list[str]:
    includes, it = [], iter(argv)
    for a in it:
        if a == "--also-include":
            includes.append(next(it))
        else:
            raise SystemExit(f"lmeval_main: unknown option {a!r} (usage: [--also-include DIR ...] -- LM_EVAL_ARGS)")
    return includes


def install_include_hook(extra: list[str]) -> None:
    if not extra:
        return
    from lm_eval.tasks import TaskManager

    orig = TaskManager.__init__

    def __init__(self: Any, *args: Any, include_path: Any = None, **kwargs: Any) -> None:
        paths = list(include_path) if isinstance(include_path, (list, tuple)) else ([include_path] if include_path else [])
        orig(self, *args, include_path=paths + [p for p in extra if p not in paths], **kwargs)

    TaskManager.__init__ = __init__  # type: ignore[method-assign]


def install_simulated_hook() -> None:
    """HFLM._create_model builds the fake-quantized model when model_args name a simulated state."""
    from lm_eval.models.huggingface import HFLM
    from lm_eval.models.utils_hf import get_dtype

    orig = HFLM._create_model

    def _create_model(self: Any, pretrained: str, dtype: Any = "auto", **kwargs: Any) -> None:
        state: Optional[str] = kwargs.pop(SIMULATED_KEY, None)
        export: Optional[str] = kwargs.pop(EXPORT_KEY, None)
        if state is None:
            return orig(self, pretrained, dtype=dtype, **kwargs)
        from skills.quantize.simulated import load_simulated_model

        print(f"lmeval_main: building the model under modelopt simulated quantization: state {state} on {pretrained}",
              file=sys.stderr, flush=True)
        dt = get_dtype(dtype) if dtype not in (None, "auto") else None
        model = load_simulated_model(state, source=pretrained, dtype=dt)
        # the weights are static: fake-quantize them once instead of at every forward (modelopt's own
        # fold_weight; the same numbers, measured bit-identical logits, ~3x faster on a CPU). The
        # activation quantizers stay live.
        import modelopt.torch.quantization as mtq

        mtq.fold_weight(model)
        if export is not None:
            check_export(model, export)
        self._model = model
        return None

    HFLM._create_model = _create_model  # type: ignore[method-assign]


def check_export(model: Any, export: str) -> None:
    """The export must hold the weights being evaluated; else stop before any score exists."""
    from conductor.fsutil import atomic_write_json
    from skills.evaluate.fidelity import compare_export

    report = compare_export(model, export)
    atomic_write_json(FIDELITY_FILE, {"ok": report.ok, "export": report.export, "checked": report.checked,
                                      "worst": report.worst, "unchecked": report.unchecked,
                                      "mismatched": report.mismatched, "summary": report.summary()})
    print(f"lmeval_main: export fidelity: {report.summary()}", file=sys.stderr, flush=True)
    if not report.ok:
        # the verdict first: a shortened detail keeps the head of the exception line
        raise RuntimeError(f"export fidelity check failed: the export does not hold the weights that were evaluated "
                           f"({len(report.mismatched)} of {report.checked} tensors differ, worst relative error "
                           f"{report.worst:.3g}): {report.summary()}")


def main(argv: Optional[list[str]] = None) -> None:
    ours, lm_args = _split(list(sys.argv[1:] if argv is None else argv))
    includes = _ours(ours)
    os.environ.setdefault("TQDM_MININTERVAL", "5")
    sys.stderr = _LineBreaks(sys.stderr)
    install_include_hook(includes)
    if any(f"{SIMULATED_KEY}=" in a for a in lm_args):
        install_simulated_hook()
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["lm-eval", *lm_args]
    cli_evaluate()


if __name__ == "__main__":
    main()
