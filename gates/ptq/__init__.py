"""ptq gate: is the exported checkpoint servable, quantized as its recipe says, and smaller?

    python -m gates.ptq --artifacts SOURCE_DIR EXPORT_DIR --recipe fp8
    python -m gates.ptq --artifacts SOURCE_DIR EXPORT_DIR --recipe my_recipe.yaml --facts-out facts.json
    python -m gates.ptq --input facts.json
"""

from __future__ import annotations

import argparse

from gates.contract import GateSpec, InputError
from gates.ptq.collect import collect
from gates.ptq.decide import decide
from gates.ptq.models import PtqFacts


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", metavar="NAME_OR_PATH", default=None,
                   help="recipe the export should follow: a shipped name (fp8, int8_sq, int4_awq, nvfp4, w4a8_awq) "
                        "or a .yaml/.json recipe file; required with --artifacts")
    p.add_argument("--size-tolerance", type=float, default=None,
                   help="allowed growth when the source is already at the recipe's precision (default 0.02)")


def _overrides(f: PtqFacts, args: argparse.Namespace) -> PtqFacts:
    if args.input is not None and args.recipe is not None:
        raise InputError("--recipe", "applies to --artifacts only: the facts already hold the recipe they were "
                                     "collected under; collect again to judge another recipe")
    if args.size_tolerance is None:
        return f
    return PtqFacts.model_validate({**f.model_dump(), "size_tolerance": args.size_tolerance})


SPEC = GateSpec(
    name="ptq",
    facts_model=PtqFacts,
    decide=decide,
    summary="PTQ gate: reads the safetensors headers and JSON files of the source and exported checkpoints. "
            "The export must be servable (config, weights, tokenizer; no drift from the source's config; the "
            "source's tokenizer unchanged: vocabulary, merges, special tokens and their ids, chat template, "
            "generation defaults), quantize every weight matrix the recipe covers in the recipe's format and "
            "nothing else, declare exactly that (a declaration that disagrees with the tensors is "
            "QUANT_COVERAGE_FAILURE, never MODEL_UNSUPPORTED), and hold fewer weight bytes than the source.",
    collect=collect,
    artifacts_help="SOURCE_DIR EXPORT_DIR (Hugging Face checkpoint directories)",
    add_arguments=_add_arguments,
    apply_overrides=_overrides,
)
