"""Facts for the ptq gate: what the source and exported checkpoints' headers and JSON files say.

The collector fills these from raw files; the decision reads nothing else. Weight matrices (every
`*.weight` tensor with two or more dimensions: linear layers, embeddings, lm_head) are grouped by
name pattern (layer indices replaced by `*`) and by everything the decision looks at, so the facts
of a 1000-layer MoE stay a few dozen groups while every count stays exact.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from gates.contract import StrictModel
from gates.recipes import Recipe, ScaleName

NAMES_CAP = 32  # names kept per group; `count` is always exact


class WeightFile(StrictModel):
    name: str = Field(description="path relative to the checkpoint directory")
    file_bytes: int = Field(ge=0)
    tensor_bytes: int = Field(ge=0, description="sum of the tensors' data_offsets spans")
    tensors: int = Field(ge=0)
    error: Optional[str] = Field(default=None, description="why the header cannot be trusted")


class CheckpointSide(StrictModel):
    """One checkpoint, as its safetensors headers describe it."""

    path: str
    weight_files: list[WeightFile]
    tensor_bytes: int = Field(ge=0)
    file_bytes: int = Field(ge=0)
    tensors: int = Field(ge=0)
    matrix_dtypes: dict[str, int] = Field(description="weight matrices per stored dtype")
    dominant_matrix_dtype: Optional[str] = Field(description="dtype holding most weight-matrix bytes")


class FileProblem(StrictModel):
    file: str
    problem: str


class ServingFiles(StrictModel):
    """What a server needs from the export directory, and what it would not find."""

    export_exists: bool
    present: list[str]
    missing: list[str] = Field(description="required files (or roles) absent")
    missing_from_source: list[str] = Field(
        default_factory=list, description="tokenizer/generation files the source ships but the export lacks")
    unreadable: list[FileProblem] = Field(description="files present but corrupt, truncated or inconsistent")
    tensors_missing: int = Field(ge=0, description="source tensors absent from the export")
    tensors_missing_names: list[str] = Field(max_length=NAMES_CAP)
    matrices_added: int = Field(default=0, ge=0, description="weight matrices the source does not have")
    matrices_added_names: list[str] = Field(default_factory=list, max_length=NAMES_CAP)


DeclarationFile = Literal["hf_quant_config.json", "config.json"]


class Declaration(StrictModel):
    """One place the export declares its quantization."""

    file: DeclarationFile
    quant_method: Optional[str] = None
    quant_algo: Optional[str]
    kv_cache_quant_algo: Optional[str] = None
    exclude_modules: list[str] = Field(description="exclude_modules (hf_quant_config) or ignore (config.json)")
    quantized_layers: Optional[int] = Field(default=None, ge=0, description="MIXED_PRECISION entries, if any")
    quantized_layer_algos: list[str] = Field(default_factory=list)


class LayerGroup(StrictModel):
    """Weight matrices with the same name pattern and the same observed and expected state."""

    pattern: str = Field(min_length=1, description="module name with layer indices replaced by '*'")
    count: int = Field(ge=1)
    names: list[str] = Field(min_length=1, max_length=NAMES_CAP)
    params: int = Field(ge=0, description="logical weights in the group (source shape)")
    source_dtype: Optional[str] = Field(description="dtype in the source; null: not in the source")
    stored_dtype: str
    shape: Literal["same", "packed", "changed", "new"] = Field(
        description="vs the source: same, packed (half the elements in a byte dtype), changed, new")
    scales: list[ScaleName] = Field(description="scale tensors stored next to the weight")
    recipe: Literal["covered", "excluded", "not_covered"]
    recipe_pattern: Optional[str] = Field(description="the recipe pattern that decided `recipe`")
    declared_algo: Optional[str] = Field(description="algorithm the export declares for it; null: unquantized")


class ConfigDrift(StrictModel):
    key: str = Field(description="dotted config.json key")
    source: str = Field(description="JSON of the source value (truncated)")
    export: str = Field(description="JSON of the export value (truncated)")
    kind: Literal["shape", "behaviour"]


class VocabFile(StrictModel):
    """One file that defines the vocabulary, reduced to canonical hashes of its parts."""

    file: str
    kind: Literal["tokenizers", "sentencepiece", "vocab.json", "merges.txt", "vocab.txt", "tiktoken"]
    model_type: Optional[str] = Field(default=None, description="BPE, Unigram, WordLevel, WordPiece, sentencepiece")
    entries: int = Field(ge=0, description="tokens (pieces, lines; merges for merges.txt)")
    parts: dict[str, str] = Field(description="part (vocab, merges, added_tokens, normalizer, ...) -> sha256")


class TokenizerSide(StrictModel):
    """What decides tokenization in one checkpoint (gates/ptq/tokenizer.py says how each part is read)."""

    files: list[str] = Field(description="tokenizer, chat-template and generation files present")
    vocab_files: list[VocabFile] = Field(description="the readable files that define the vocabulary")
    vocab_size: Optional[int] = Field(ge=0, description="distinct token ids a server would use (with added tokens)")
    special_tokens: dict[str, str] = Field(description="'file:role' -> JSON of the token (bos, eos, pad, unk, ...)")
    special_token_ids: dict[str, Optional[int]] = Field(description="'file:role' -> its id; null: not in the vocab")
    settings: dict[str, str] = Field(description="tokenizer_config.json keys that change tokenization, as JSON")
    chat_templates: dict[str, str] = Field(description="template name -> sha256 of the effective chat template")
    chat_template_file: Optional[str] = Field(description="where the effective chat template was read")
    generation: dict[str, str] = Field(description="generation_config.json keys (eos_token_id, sampling defaults), as "
                                                   "JSON; without the file, those config.json implies")


class TokenizerPair(StrictModel):
    source: TokenizerSide
    export: Optional[TokenizerSide] = Field(description="null when the export directory does not exist")


class ScaleStats(StrictModel):
    """What the values read from one scale tensor look like."""

    name: str
    dtype: str
    numel: int = Field(ge=0)
    values_read: int = Field(ge=0)
    complete: bool = Field(description="every value was read (else three windows)")
    nonfinite: int = Field(ge=0)
    zero: int = Field(ge=0)
    negative: int = Field(ge=0)


class TensorData(StrictModel):
    """The export's scale tensors and samples of its quantized weights (gates/ptq/tensordata.py)."""

    scales_read: int = Field(ge=0)
    scales_nonfinite: int = Field(ge=0, description="scale tensors holding a NaN or an infinity")
    scales_negative: int = Field(ge=0, description="scale tensors holding a negative value")
    scales_all_zero: int = Field(ge=0, description="scale tensors whose every value read is zero")
    scales_flagged: list[ScaleStats] = Field(max_length=NAMES_CAP, description="the worst of them")
    weights_sampled: int = Field(ge=0, description="quantized weight matrices sampled (three windows each)")
    zero_weights_count: int = Field(ge=0, description="quantized weight matrices whose every sampled byte is zero")
    zero_weights: list[str] = Field(max_length=NAMES_CAP)
    unread: int = Field(ge=0, description="tensors not read (byte budget spent, or an I/O error)")
    budget_bytes: int = Field(ge=0)


class PtqFacts(StrictModel):
    recipe: Recipe
    source: CheckpointSide
    export: Optional[CheckpointSide] = Field(description="null when the export directory does not exist")
    serving: ServingFiles
    declarations: list[Declaration] = Field(max_length=2)
    kv_scale_tensors: int = Field(ge=0, description="k_scale / v_scale tensors in the export")
    layers: list[LayerGroup]
    config_drift: list[ConfigDrift]
    config_allowed: list[str] = Field(default_factory=list, description="config differences judged harmless")
    tokenizers: Optional[TokenizerPair] = Field(
        default=None, description="the source's and the export's tokenizers; null only in facts collected before "
                                  "the ptq gate compared tokenizers (the check then says it was not done)")
    tensor_data: Optional[TensorData] = Field(
        default=None, description="the export's scales and weight samples; null only in facts collected before the "
                                  "ptq gate read them (the checks then say they were not done)")
    size_tolerance: float = Field(default=0.02, ge=0, le=0.5,
                                  description="allowed growth when the source is already at the recipe's precision")
