"""Pure decision: is the exported checkpoint servable, quantized as its recipe says, and smaller?

Checks, in the order of the classes they imply (unservable > unsupported > coverage > size):
  CHECKPOINT_NOT_SERVABLE  export missing; server files missing or unreadable (a tokenizer.json
                           without a model, a vocabulary that is not token -> id, a .model that is
                           not protobuf); source tensors lost or reshaped, or weight matrices the
                           source lacks (an lm_head untied from tied embeddings excepted); config.json drifted from
                           the source's; the tokenizer differs from the source's: vocabulary (size
                           and hash), merges, added tokens, normalizer/pre-tokenizer/post-processor/
                           decoder, special tokens (bos/eos/pad/unk/...) and their ids, tokenizer
                           settings, chat template, generation defaults (gates/ptq/tokenizer.py)
  MODEL_UNSUPPORTED        the recipe matches no weight matrix, or nothing is stored quantized AND
                           nothing is declared (the export honestly says it quantized nothing)
  QUANT_COVERAGE_FAILURE   covered matrices unquantized or in the wrong format; matrices the recipe
                           leaves alone quantized; declared quant_algo / exclusions / KV cache
                           disagree with the recipe or with the tensors; the two declarations
                           disagree; config.json's quant_method is not modelopt (a server picks
                           its loader by it); quantized tensors declared unquantized (quant_algo null, no
                           declaration, MIXED_PRECISION without layers) or a quantization declared
                           over unquantized tensors: the declaration lies, which is a coverage
                           failure even where MODEL_UNSUPPORTED would otherwise be reported; a scale tensor
                           holds a NaN, an infinity or a negative value, or is all zero, or a
                           quantized weight is all zero where sampled (gates/ptq/tensordata.py)
  SIZE_NOT_REDUCED         export weight bytes not below the source's. Allowance: when the source's
                           dominant weight dtype is already at or below the recipe's bits per weight
                           (say an FP8 or INT8 source under the fp8 recipe), equal size within
                           `size_tolerance` passes, and the check says the allowance was applied.
When the export has no readable weight matrix, only the servability checks are reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.ptq.models import Declaration, LayerGroup, PtqFacts, TokenizerSide
from gates.recipes import DTYPE_BITS, Recipe

GATE = "ptq"
PRIORITY = (FC.CHECKPOINT_NOT_SERVABLE, FC.MODEL_UNSUPPORTED, FC.QUANT_COVERAGE_FAILURE, FC.SIZE_NOT_REDUCED)
QUANT_DTYPES = frozenset({"F8_E4M3", "F8_E5M2", "I8", "U8", "F4", "F6_E2M3", "F6_E3M2"})
MIXED = "MIXED_PRECISION"
CAP = 20  # layer names listed per offence; counts are always exact
NOT_SERVABLE, UNSUPPORTED, COVERAGE = FC.CHECKPOINT_NOT_SERVABLE, FC.MODEL_UNSUPPORTED, FC.QUANT_COVERAGE_FAILURE


def quantized(g: LayerGroup) -> bool:
    """Stored in a quantized dtype, or carrying a weight scale."""
    return g.stored_dtype in QUANT_DTYPES or "weight_scale" in g.scales


def conforms(g: LayerGroup, r: Recipe) -> bool:
    """Stored exactly as the recipe says: dtype, int4 packing, and every required scale."""
    return (g.stored_dtype == r.weight_dtype and (g.shape == "packed") == r.packed_int4
            and set(r.required_scales) <= set(g.scales))


def offenders(groups: list[LayerGroup]) -> dict[str, object]:
    """Count (exact), name patterns, and at most CAP layer names of some groups."""
    return {"count": _n(groups), "patterns": sorted({g.pattern for g in groups}),
            "layers": [n for g in groups for n in g.names][:CAP]}


def _n(groups: list[LayerGroup]) -> int:
    return sum(g.count for g in groups)


def _brief(groups: list[LayerGroup]) -> str:
    """'a, b, c, d, e ... (+N more)' for a detail sentence."""
    names = [n for g in groups for n in g.names][:5]
    more = _n(groups) - len(names)
    return ", ".join(names) + (f" (+{more} more)" if more > 0 else "")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------- servability
def _files_checks(f: PtqFacts) -> list[Check]:
    s = f.serving
    gone = s.missing + [f"{x} (shipped by the source)" for x in s.missing_from_source]
    bad = [f"{p.file}: {p.problem}" for p in s.unreadable]
    exists = s.export_exists and f.export is not None
    return [
        check("export_present", exists, "the export directory exists" if exists else
              f"no export: {', '.join(s.missing) or 'the export directory is missing'}", failure_class=NOT_SERVABLE),
        check("serving_files", not gone, f"files a server needs are missing from the export: {', '.join(gone)}"
              if gone else "config, weights and tokenizer files present", failure_class=NOT_SERVABLE,
              observed=s.present, expected=gone or None),
        check("files_readable", not bad, f"unreadable or inconsistent: {'; '.join(bad[:5])}" if bad
              else "every header and JSON file parses and is consistent", failure_class=NOT_SERVABLE,
              observed=bad[:CAP] or None),
    ]


def _tensor_checks(f: PtqFacts) -> list[Check]:
    s, reshaped = f.serving, [g for g in f.layers if g.shape == "changed"]
    lost = (f"{s.tensors_missing} source tensor(s) absent from the export, e.g. {s.tensors_missing_names[:5]}"
            if s.tensors_missing else "")
    moved = f"{_n(reshaped)} matrices changed shape beyond int4 packing: {_brief(reshaped)}" if reshaped else ""
    extra = (f"{s.matrices_added} weight matrices the source does not have, e.g. {s.matrices_added_names[:5]}"
             if s.matrices_added else "")
    has_weights = f.export is not None and bool(f.layers)
    return [
        check("weights_present", has_weights, f"the export holds {_n(f.layers)} weight matrices" if has_weights
              else "the export holds no readable weight matrix", failure_class=NOT_SERVABLE, observed=_n(f.layers)),
        check("tensors_complete", not lost and not moved and not extra, _join(lost, moved, extra)
              or "every source tensor is in the export, and no weight matrix the source lacks",
              failure_class=NOT_SERVABLE, observed={"missing": s.tensors_missing, "reshaped": offenders(reshaped),
                                                    "added": s.matrices_added}),
    ]


def _config_check(f: PtqFacts) -> Check:
    d = f.config_drift
    kinds = "/".join(sorted({x.kind for x in d}))
    shown = "; ".join(f"{x.key}: {x.source} -> {x.export}" for x in d[:6])
    detail = (f"config.json differs from the source beyond quantization ({kinds}-affecting): {shown}; "
              "a server would build a different model" if d else "config.json matches the source outside quantization")
    return check("config_consistent", not d, detail, failure_class=NOT_SERVABLE,
                 observed=[x.model_dump() for x in d[:CAP]] or None)


# ---------------------------------------------------------------- tokenizer
VOCAB_KINDS = ("tokenizers", "sentencepiece", "vocab.json", "merges.txt", "vocab.txt", "tiktoken")


def _dict_diff(label: str, a: Mapping[str, object], b: Mapping[str, object], keys: Optional[list[str]] = None
               ) -> list[str]:
    keys = sorted(set(a) | set(b)) if keys is None else keys
    return [f"{label} {k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}" for k in keys if a.get(k) != b.get(k)]


def _vocab_diff(src: TokenizerSide, exp: TokenizerSide) -> list[str]:
    out = [f"the export adds {f}, which a server would load instead of the source's tokenizer"
           for f in sorted({v.file for v in exp.vocab_files} - {v.file for v in src.vocab_files})]
    theirs = {v.file: v for v in exp.vocab_files}
    for mine in src.vocab_files:
        other = theirs.get(mine.file)
        if other is None:
            out.append(f"{mine.file}: readable in the source, missing or unreadable in the export")
            continue
        parts = sorted(k for k in set(mine.parts) | set(other.parts) if mine.parts.get(k) != other.parts.get(k))
        if mine.entries != other.entries or mine.model_type != other.model_type or parts:
            out.append(f"{mine.file}: {mine.model_type or mine.kind} with {mine.entries} entries -> "
                       f"{other.model_type or other.kind} with {other.entries}"
                       + (f"; differs in {', '.join(parts)}" if parts else ""))
    if src.vocab_size != exp.vocab_size:
        out.append(f"vocabulary size {src.vocab_size} -> {exp.vocab_size}")
    return out


def _generation_diff(src: TokenizerSide, exp: TokenizerSide) -> list[str]:
    """Symmetric when the source ships generation_config.json; else the export's may only restate config.json."""
    keys = None if "generation_config.json" in src.files else sorted(exp.generation)
    return _dict_diff("generation default", src.generation, exp.generation, keys)


def tokenizer_differences(src: TokenizerSide, exp: TokenizerSide) -> list[str]:
    """Everything about the export's tokenizer, chat template and generation defaults that differs from the source's."""
    if not exp.vocab_files and src.vocab_files:
        return ["the export has no readable tokenizer (" + ", ".join(v.file for v in src.vocab_files)
                + " in the source)"]
    tpl = [f"chat template {n!r}: " + ("absent in the export" if n not in exp.chat_templates else "absent in the "
           "source" if n not in src.chat_templates else f"sha256 {src.chat_templates[n][:12]} -> "
           f"{exp.chat_templates[n][:12]}") for n in sorted(set(src.chat_templates) | set(exp.chat_templates))
           if src.chat_templates.get(n) != exp.chat_templates.get(n)]
    ids = {k: str(v) for k, v in src.special_token_ids.items()}, {k: str(v) for k, v in exp.special_token_ids.items()}
    return (_vocab_diff(src, exp) + _dict_diff("special token", src.special_tokens, exp.special_tokens)
            + _dict_diff("special token id of", *ids) + _dict_diff("tokenizer setting", src.settings, exp.settings)
            + tpl + _generation_diff(src, exp))


def _tokenizer_checks(f: PtqFacts) -> list[Check]:
    """[] without an export (export_present already failed)."""
    if f.tokenizers is None:
        return [check("tokenizer_matches_source", True, "tokenizers not compared: these facts were collected before "
                      "the ptq gate compared them (collect again with --artifacts to compare)")]
    if f.tokenizers.export is None:
        return []
    diff = tokenizer_differences(f.tokenizers.source, f.tokenizers.export)
    ok = not diff
    return [check("tokenizer_matches_source", ok,
                 "the export's tokenizer, chat template and generation defaults match the source's" if ok else
                 f"the export's tokenizer differs from the source's (a server would tokenize, stop or template "
                 f"differently): {'; '.join(diff[:6])}" + (f" (+{len(diff) - 6} more)" if len(diff) > 6 else ""),
                 failure_class=NOT_SERVABLE, observed=diff[:CAP] or None)]


# ---------------------------------------------------------------- support
def _declared(d: Optional[Declaration]) -> tuple[bool, str]:
    if d is None:
        return False, "the export declares no quantization: no hf_quant_config.json, no quantization_config"
    if d.quant_algo is None:
        return False, f"the export declares no quantization: {d.file} says quant_algo null"
    if d.quant_algo == MIXED and not d.quantized_layers:
        return False, f"the export declares no quantization: {d.file} says {MIXED} with no quantized_layers"
    return True, f"{d.file} declares quant_algo {d.quant_algo}"


def _support_checks(f: PtqFacts) -> list[Check]:
    """MODEL_UNSUPPORTED when the recipe fits no matrix, or when nothing is quantized and nothing declared. When
    the tensors and the declaration disagree (quantized but declared unquantized, or declared but nothing stored
    quantized) the declaration lies about the export: QUANT_COVERAGE_FAILURE."""
    r, total = f.recipe, _n(f.layers)
    covered, q = [g for g in f.layers if g.recipe == "covered"], [g for g in f.layers if quantized(g)]
    primary = f.declarations[0] if f.declarations else None
    declared, why = _declared(primary)
    lie = bool(q) != declared
    if lie and q:
        why += f", yet the export stores {_n(q)} weight matrices quantized (a server would load them as unquantized)"
    stored = (f"{_n(q)} of {total} weight matrices stored quantized" if q else
              f"nothing was quantized: all {total} weight matrices are stored unquantized"
              + (f"; {primary.file} declares quant_algo {primary.quant_algo} but nothing is stored quantized"
                 if lie and primary else ""))
    return [
        check("recipe_matches_model", bool(covered), f"recipe {r.name} covers {_n(covered)} of {total} weight matrices"
              if covered else f"recipe {r.name} (covers {r.covers}) matches none of the {total} weight matrices "
              "of this model", failure_class=UNSUPPORTED, observed=_n(covered)),
        check("something_quantized", bool(q), stored, failure_class=COVERAGE if lie else UNSUPPORTED, observed=_n(q)),
        check("quantization_declared", declared, why, failure_class=COVERAGE if lie else UNSUPPORTED,
              observed=primary.quant_algo if primary else None),
    ]


# ---------------------------------------------------------------- coverage
def _coverage_checks(f: PtqFacts) -> list[Check]:
    r = f.recipe
    covered = [g for g in f.layers if g.recipe == "covered"]
    left = [g for g in covered if not quantized(g)]
    wrong = [g for g in covered if quantized(g) and not conforms(g, r)]
    extra = [g for g in f.layers if g.recipe != "covered" and quantized(g)]
    fmt = f"{r.weight_dtype}{' packed int4' if r.packed_int4 else ''} with {'+'.join(r.required_scales) or 'no scale'}"
    found = ", ".join(sorted({g.stored_dtype for g in wrong}))
    detail = _join(f"{_n(left)} covered matrices left unquantized: {_brief(left)}" if left else "",
                   f"{_n(wrong)} covered matrices not stored as {fmt}: {_brief(wrong)} ({found})" if wrong else "")
    return [
        check("coverage", not detail, detail or f"all {_n(covered)} covered matrices stored as {fmt}",
              failure_class=COVERAGE, observed={"unquantized": offenders(left), "wrong_format": offenders(wrong)}),
        check("exclusions_respected", not extra,
              f"{_n(extra)} matrices the recipe leaves unquantized were quantized: {_brief(extra)}" if extra
              else "matrices outside the recipe stay unquantized", failure_class=COVERAGE, observed=offenders(extra)),
    ]


def _algo_ok(d: Declaration, want: str) -> bool:
    return d.quant_algo is None or d.quant_algo == want or (
        d.quant_algo == MIXED and set(d.quantized_layer_algos) <= {want})


def _algo_check(f: PtqFacts) -> Check:
    want = f.recipe.quant_algo
    bad = [f"{d.file} declares {d.quant_algo}" + (f" ({'/'.join(d.quantized_layer_algos)})" if d.quant_algo == MIXED
                                                  else "") for d in f.declarations if not _algo_ok(d, want)]
    detail = f"{'; '.join(bad)}, recipe {f.recipe.name} expects {want}" if bad else f"declared quant_algo is {want}"
    return check("quant_algo_matches_recipe", not bad, detail, failure_class=COVERAGE,
                 observed=[d.quant_algo for d in f.declarations], expected=want)


def _summary(d: Declaration) -> dict[str, object]:
    return {"quant_algo": d.quant_algo, "kv_cache_quant_algo": d.kv_cache_quant_algo,
            "exclude_modules": sorted(set(d.exclude_modules)), "quantized_layers": d.quantized_layers,
            "quantized_layer_algos": d.quantized_layer_algos}


def _declaration_checks(f: PtqFacts) -> list[Check]:
    """Declared exclusions vs the tensors, and hf_quant_config.json vs config.json."""
    if not f.declarations or f.declarations[0].quant_algo is None:
        return []  # nothing declared: quantization_declared already failed
    hidden = [g for g in f.layers if quantized(g) and g.declared_algo is None]
    false = [g for g in f.layers if not quantized(g) and g.declared_algo is not None]
    detail = _join(f"{_n(hidden)} quantized matrices declared excluded: {_brief(hidden)}" if hidden else "",
                   f"{_n(false)} unquantized matrices not declared excluded (a server would load them as "
                   f"quantized): {_brief(false)}" if false else "")
    out = [check("declaration_matches_tensors", not detail,
                 detail or "declared exclusions are exactly the unquantized matrices", failure_class=COVERAGE,
                 observed={"quantized_but_excluded": offenders(hidden), "unquantized_not_excluded": offenders(false)})]
    if len(f.declarations) == 2:
        a, b = (_summary(d) for d in f.declarations)
        diff = sorted(k for k in a if a[k] != b[k])
        out.append(check("declarations_agree", not diff,
                         f"hf_quant_config.json and config.json disagree on {', '.join(diff)}" if diff
                         else "hf_quant_config.json and config.json agree", failure_class=COVERAGE,
                         observed={k: [a[k], b[k]] for k in diff} or None))
    return out


def _data_checks(f: PtqFacts) -> list[Check]:
    """Scales NaN, infinite, negative or all zero, and quantized weights that are all zero where sampled."""
    d = f.tensor_data
    if d is None:
        note = "not read: these facts were collected before the ptq gate read tensor data"
        return [check("scales_valid", True, f"scales {note}"), check("weights_nonzero", True, f"weights {note}")]
    unread = f"; {d.unread} tensor(s) left unread (byte budget {d.budget_bytes})" if d.unread else ""
    bad = d.scales_nonfinite + d.scales_negative + d.scales_all_zero
    worst = "; ".join(f"{s.name} ({s.dtype}, {s.values_read} of {s.numel} values read: {s.nonfinite} non-finite, "
                      f"{s.zero} zero, {s.negative} negative)" for s in d.scales_flagged[:5])
    return [
        check("scales_valid", not bad, f"{d.scales_nonfinite} scale tensor(s) with NaN/inf, {d.scales_negative} with "
              f"a negative value, {d.scales_all_zero} all zero (the layers dequantize to garbage or zero): {worst}"
              if bad else f"all {d.scales_read} scale tensors are finite, non-negative and not all zero{unread}",
              failure_class=COVERAGE, observed={"nonfinite": d.scales_nonfinite, "negative": d.scales_negative,
                                                "all_zero": d.scales_all_zero, "read": d.scales_read}),
        check("weights_nonzero", not d.zero_weights_count,
              f"{d.zero_weights_count} quantized weight matrices are all zero where sampled: "
              f"{', '.join(d.zero_weights[:5])}" if d.zero_weights_count else
              f"none of the {d.weights_sampled} quantized weight matrices sampled is all zero{unread}",
              failure_class=COVERAGE, observed=d.zero_weights_count, expected=0),
    ]


def _loader_check(f: PtqFacts) -> Check:
    """config.json's quantization_config must name modelopt's loader: a server picks its loader by quant_method."""
    bad = [d for d in f.declarations if d.file == "config.json" and d.quant_method != "modelopt"]
    return check("declared_loader", not bad, "; ".join(
        f"config.json declares quant_method {d.quant_method!r}: a server would read these modelopt tensors with "
        f"{'that loader' if d.quant_method else 'no quantization loader at all'}, not modelopt's" for d in bad)
        or "config.json names modelopt's loader (quant_method modelopt)" if any(
            d.file == "config.json" for d in f.declarations) else "config.json declares no quantization_config",
        failure_class=COVERAGE, observed=[d.quant_method for d in bad] or None, expected="modelopt")


def _kv_check(f: PtqFacts) -> Check:
    want = f.recipe.kv_cache_quant_algo
    declared = sorted({str(d.kv_cache_quant_algo) for d in f.declarations})
    ok = all(d.kv_cache_quant_algo == want for d in f.declarations) and (f.kv_scale_tensors > 0) == (want is not None)
    return check("kv_cache", ok, f"KV cache: declared {'/'.join(declared) or 'nothing'}, {f.kv_scale_tensors} k/v "
                 f"scale tensors; recipe {f.recipe.name} expects {want or 'no KV-cache quantization'}",
                 failure_class=COVERAGE, observed={"declared": declared, "scales": f.kv_scale_tensors}, expected=want)


# ---------------------------------------------------------------- size
def size_facts(f: PtqFacts) -> dict[str, object]:
    """Weight bytes each side, their ratio, the recipe's estimate, and whether the allowance applies."""
    src, exp, r = f.source, f.export, f.recipe
    bits = DTYPE_BITS.get(src.dominant_matrix_dtype or "")
    saved = sum(g.params * (DTYPE_BITS.get(g.source_dtype or "", r.bits_per_weight) - r.bits_per_weight) / 8
                for g in f.layers if g.recipe == "covered")
    return {"source_weight_bytes": src.tensor_bytes, "export_weight_bytes": exp.tensor_bytes if exp else None,
            "size_ratio": exp.tensor_bytes / src.tensor_bytes if exp is not None and src.tensor_bytes else None,
            "source_file_bytes": src.file_bytes, "export_file_bytes": exp.file_bytes if exp else None,
            "estimated_ratio": (src.tensor_bytes - saved) / src.tensor_bytes if src.tensor_bytes else None,
            "source_precision": src.dominant_matrix_dtype, "source_bits": bits, "recipe_bits": r.bits_per_weight,
            "allowance": bits is not None and bits <= r.bits_per_weight}


def _size_check(f: PtqFacts) -> Check:
    s = size_facts(f)
    ratio, allow = s["size_ratio"], s["allowance"] is True
    if not isinstance(ratio, float):  # None: size_facts gives a float whenever the source has weight bytes
        return check("size_reduced", False, "the source holds no weight bytes to compare against",
                     failure_class=FC.SIZE_NOT_REDUCED)
    ok = ratio < 1 or (allow and ratio <= 1 + f.size_tolerance)
    why = (f"allowance applied: the source is already {s['source_precision']} ({s['source_bits']:g} bits), at or below "
           f"the recipe's {s['recipe_bits']:g}, so equal size within {f.size_tolerance:.0%} passes" if allow else
           f"no allowance: the source is {s['source_precision']}, wider than the recipe's {s['recipe_bits']:g} bits")
    detail = (f"export weights are {ratio:.3f}x the source's ({s['export_weight_bytes']} vs {s['source_weight_bytes']} "
              f"bytes; the recipe estimates {s['estimated_ratio']:.3f}x); {why}")
    return check("size_reduced", ok, detail, failure_class=FC.SIZE_NOT_REDUCED, observed=ratio,
                 expected=1 + f.size_tolerance if allow else 1.0)


# ---------------------------------------------------------------- verdict
def _by_pattern(groups: list[LayerGroup]) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in groups:
        key = g.recipe_pattern or "(not covered by the recipe)"
        out[key] = out.get(key, 0) + g.count
    return dict(sorted(out.items()))


def evidence(f: PtqFacts) -> dict[str, object]:
    excluded = [g for g in f.layers if g.recipe != "covered"]
    return {
        "recipe": f.recipe.name, **size_facts(f),
        "precision_counts": {"source": f.source.matrix_dtypes, "export": f.export.matrix_dtypes if f.export else {}},
        "quantized_matrices": _n([g for g in f.layers if quantized(g)]), "matrices": _n(f.layers),
        "layers_excluded": offenders(excluded), "excluded_by_pattern": _by_pattern(excluded),
        "declared": [{"file": d.file, "quant_algo": d.quant_algo, "kv_cache_quant_algo": d.kv_cache_quant_algo,
                      "exclude_modules": d.exclude_modules[:CAP]} for d in f.declarations],
        "config_drift": [x.model_dump() for x in f.config_drift[:CAP]], "config_allowed": f.config_allowed,
    }


def decide(f: PtqFacts) -> Verdict:
    checks = _files_checks(f) + _tensor_checks(f) + [_config_check(f)] + _tokenizer_checks(f)
    if f.export is not None and f.layers:
        checks += _support_checks(f) + _coverage_checks(f) + [_algo_check(f)] + _declaration_checks(f)
        checks += _data_checks(f) + [_loader_check(f), _kv_check(f), _size_check(f)]
    ratio = size_facts(f)["size_ratio"] or 0.0
    pass_detail = (f"{f.recipe.name} export is servable, {_n([g for g in f.layers if quantized(g)])} of "
                   f"{_n(f.layers)} weight matrices are quantized as the recipe says ({f.recipe.quant_algo}), "
                   f"weights {ratio:.3f}x the source's")
    return verdict_from_checks(GATE, checks, pass_detail=pass_detail, evidence=evidence(f), priority=PRIORITY)
