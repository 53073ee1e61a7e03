"""Fingerprint a checkpoint's tokenizer from its files alone (no transformers, no tokenizers, no sentencepiece).

A server tokenizes with whatever tokenizer files sit next to the weights, so an export must carry
the source's tokenizer unchanged. `fingerprint(root)` reads every tokenizer file a checkpoint may
have and reduces it to what decides tokenization, each part as the SHA-256 of a canonical form:

  tokenizer.json            model type; vocab (token -> id), merges (either spelling, "a b" or
                            ["a", "b"]), added tokens, normalizer, pre-tokenizer, post-processor,
                            decoder, the model's options (null options dropped)
  tokenizer.model, spiece.model, sentencepiece.bpe.model
                            a sentencepiece ModelProto, walked as protobuf wire format: the pieces
                            (their text gives the vocabulary), the trainer spec (unk/bos/eos/pad ids,
                            byte fallback), the normalizer and denormalizer specs
  vocab.json, merges.txt, vocab.txt, *.tiktoken, tiktoken.model
                            their entries (merges.txt without its #version line)
  tokenizer_config.json, special_tokens_map.json
                            the special tokens (bos, eos, pad, unk, sep, cls, mask, extra ones) per
                            file, with the id each has in the vocabulary; the other settings
                            (add_bos_token, model_max_length, ...) minus the keys only a library
                            version writes (tokenizer_class, backend, name_or_path, ...)
  chat_template.jinja > chat_template.json > tokenizer_config.json "chat_template"
                            the effective chat template (and named ones), hashed
  generation_config.json    every key except transformers_version (eos_token_id, sampling defaults)

A file that is present but malformed (not JSON, a tokenizer.json without a model, a vocabulary
that is not token -> id, a .model that is not protobuf) is a problem, returned beside the facts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Optional

from gates.contract import parse_json_strict
from gates.ptq.models import TokenizerSide, VocabFile

SENTENCEPIECE = ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model")
TIKTOKEN = ("tiktoken.model",)
VOCAB_FILES = ("tokenizer.json", *SENTENCEPIECE, "vocab.json", "merges.txt", "vocab.txt", *TIKTOKEN)
AUX_FILES = ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
             "chat_template.json", "generation_config.json")
ROLES = ("bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token")
EXTRA_ROLES = ("additional_special_tokens", "extra_special_tokens")  # the transformers 4 / 5 spellings
# tokenizer_config.json keys a library version writes, which change nothing about tokenization
COSMETIC = frozenset({"tokenizer_class", "backend", "name_or_path", "is_local", "local_files_only", "auto_map",
                      "processor_class", "transformers_version", "_commit_hash", "tokenizer_file",
                      "chat_template", "added_tokens_decoder", *ROLES, *EXTRA_ROLES})
GENERATION_COSMETIC = frozenset({"transformers_version", "_from_model_config"})
# the generation defaults transformers derives from config.json when a checkpoint ships no generation_config.json
FROM_MODEL_CONFIG = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "sep_token_id",
                     "max_length", "min_length", "do_sample", "temperature", "top_k", "top_p", "typical_p",
                     "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "num_beams", "use_cache",
                     "output_attentions", "output_hidden_states", "return_dict_in_generate", "forced_bos_token_id",
                     "forced_eos_token_id", "suppress_tokens", "begin_suppress_tokens")
TOKENIZER_MODELS = ("BPE", "WordLevel", "WordPiece", "Unigram")
MAX_BYTES = 512 * 1024 * 1024
VALUE_CAP = 120

Problems = list[tuple[str, str]]


class Malformed(ValueError):
    """A tokenizer file that is present but cannot be what a tokenizer library would load."""


def sha(obj: Any) -> str:
    data = obj if isinstance(obj, bytes) else json.dumps(obj, sort_keys=True, ensure_ascii=False,
                                                         separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def show(value: Any) -> str:
    """A value as JSON, or its hash when long."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= VALUE_CAP else f"sha256:{sha(value)[:16]} ({len(text)} chars)"


def is_vocab_file(name: str) -> bool:
    return name in VOCAB_FILES or name.endswith(".tiktoken")


def tokenizer_files(root: Path) -> list[str]:
    """Every tokenizer-related file in a checkpoint directory (not recursive)."""
    named = [f for f in (*VOCAB_FILES, *AUX_FILES) if (root / f).is_file()]
    return sorted(set(named) | {p.name for p in root.glob("*.tiktoken") if p.is_file()})


def _read(root: Path, name: str) -> bytes:
    path = root / name
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise Malformed(f"{size} bytes, more than a tokenizer file holds ({MAX_BYTES} at most)")
    if size == 0:
        raise Malformed("empty file")
    return path.read_bytes()


def _json(root: Path, name: str) -> Any:
    try:
        return parse_json_strict(_read(root, name).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"not valid JSON: {exc}") from None


def _object(root: Path, name: str) -> dict[str, Any]:
    data = _json(root, name)
    if not isinstance(data, dict):
        raise Malformed(f"expected a JSON object, got {type(data).__name__}")
    return data


def _is_id(v: Any) -> bool:
    return type(v) is int and v >= 0


# ---------------------------------------------------------------- tokenizer.json


def _vocab_map(model: dict[str, Any], kind: str) -> dict[str, int]:
    vocab = model.get("vocab")
    if kind == "Unigram":
        if not isinstance(vocab, list) or not all(
                isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and type(e[1]) in (int, float)
                for e in vocab):
            raise Malformed("a Unigram vocab must be a list of [piece, score] pairs")
        return {piece: i for i, (piece, _) in reversed(list(enumerate(vocab)))}
    if not isinstance(vocab, dict) or not all(_is_id(v) for v in vocab.values()):
        raise Malformed(f"a {kind} vocab must map tokens to non-negative integer ids")
    if len(set(vocab.values())) != len(vocab):
        raise Malformed(f"the {kind} vocab gives one id to several tokens")
    return vocab


def _merges(model: dict[str, Any]) -> list[list[str]]:
    merges = model.get("merges") or []
    if not isinstance(merges, list):
        raise Malformed("merges must be a list")
    pairs = [m.split(" ") if type(m) is str else m for m in merges]
    bad = next((i for i, m in enumerate(pairs)
                if type(m) is not list or len(m) != 2 or type(m[0]) is not str or type(m[1]) is not str), None)
    if bad is not None:
        raise Malformed(f"merge {merges[bad]!r} is not a pair of strings")
    return pairs


def _added(data: dict[str, Any]) -> list[dict[str, Any]]:
    added = data.get("added_tokens") or []
    if not isinstance(added, list) or not all(isinstance(a, dict) and _is_id(a.get("id"))
                                              and isinstance(a.get("content"), str) for a in added):
        raise Malformed("added_tokens must be a list of {id, content, ...} objects")
    return sorted(added, key=lambda a: a["id"])


def tokenizers_json(data: Any) -> tuple[VocabFile, dict[str, int]]:
    """The fingerprint of a tokenizer.json and its full token -> id map (vocab plus added tokens)."""
    if not isinstance(data, dict):
        raise Malformed(f"expected a JSON object, got {type(data).__name__}")
    model = data.get("model")
    if not isinstance(model, dict):
        raise Malformed("no model section: a tokenizer without a model cannot tokenize anything")
    kind = model.get("type", "BPE" if "merges" in model else None)
    if kind not in TOKENIZER_MODELS:
        raise Malformed(f"unknown tokenizer model type {kind!r} (known: {', '.join(TOKENIZER_MODELS)})")
    vocab = _vocab_map(model, kind)
    if not vocab:
        raise Malformed("the vocabulary is empty")
    merges, added = _merges(model) if kind == "BPE" else [], _added(data)
    options = {k: v for k, v in model.items() if k not in ("vocab", "merges", "type") and v is not None}
    parts = {"vocab": sha(sorted((i, t) for t, i in vocab.items()))
             if kind != "Unigram" else sha(model["vocab"]),
             "merges": sha(merges), "model_options": sha(options),
             "added_tokens": sha([[a["id"], a["content"], bool(a.get("special")), a.get("lstrip"), a.get("rstrip"),
                                   a.get("normalized"), a.get("single_word")] for a in added])}
    for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        parts[part] = sha(data.get(part))
    full = {**vocab, **{a["content"]: a["id"] for a in added}}
    return VocabFile(file="tokenizer.json", kind="tokenizers", model_type=kind, entries=len(set(full.values())),
                     parts=parts), full


# ---------------------------------------------------------------- sentencepiece (protobuf wire format)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise Malformed("not a sentencepiece model: a protobuf varint runs past the end")
        b = buf[pos]
        value |= (b & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not b & 0x80:
            return value, pos


def proto_fields(buf: bytes) -> list[tuple[int, int, bytes]]:
    """(field number, wire type, payload) of every top-level field of a protobuf message."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("not a sentencepiece model: protobuf field number 0")
        if wire == 0:
            start = pos
            _, pos = _varint(buf, pos)
        elif wire in (1, 5):
            start, pos = pos, pos + (8 if wire == 1 else 4)
        elif wire == 2:
            n, start = _varint(buf, pos)
            pos = start + n
        else:
            raise Malformed(f"not a sentencepiece model: protobuf wire type {wire}")
        if pos > len(buf):
            raise Malformed("not a sentencepiece model: a protobuf field runs past the end (truncated?)")
        out.append((number, wire, buf[start:pos]))
    return out


def sentencepiece(name: str, buf: bytes) -> tuple[VocabFile, dict[str, int]]:
    """ModelProto: 1 pieces {1 piece, 2 score, 3 type}, 2 trainer_spec, 3 normalizer_spec, 5 denormalizer_spec."""
    fields = proto_fields(buf)
    raw_pieces = [p for n, w, p in fields if n == 1 and w == 2]
    if not raw_pieces:
        raise Malformed("not a sentencepiece model: it holds no pieces")
    vocab: dict[str, int] = {}
    for i, raw in enumerate(raw_pieces):
        text = next((p for n, w, p in proto_fields(raw) if n == 1 and w == 2), None)
        if text is None:
            raise Malformed(f"not a sentencepiece model: piece {i} has no text")
        try:
            vocab.setdefault(text.decode("utf-8"), i)
        except UnicodeDecodeError:
            raise Malformed(f"not a sentencepiece model: piece {i} is not UTF-8") from None
    parts = {"pieces": sha(b"".join(hashlib.sha256(p).digest() for p in raw_pieces)),
             **{label: sha(b"".join(p for n, _, p in fields if n == number))
                for number, label in ((2, "trainer_spec"), (3, "normalizer_spec"), (5, "denormalizer_spec"))}}
    return VocabFile(file=name, kind="sentencepiece", model_type="sentencepiece", entries=len(raw_pieces),
                     parts=parts), vocab


# ---------------------------------------------------------------- plain vocabulary files


def _lines(buf: bytes, name: str) -> list[str]:
    try:
        text = buf.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8 text") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if name == "merges.txt" and lines and lines[0].startswith("#version"):
        lines = lines[1:]
    if not lines:
        raise Malformed("no entries")
    return lines


def vocab_json(data: Any) -> tuple[VocabFile, dict[str, int]]:
    if not isinstance(data, dict) or not data or not all(_is_id(v) for v in data.values()):
        raise Malformed("expected a non-empty JSON object mapping tokens to non-negative integer ids")
    return VocabFile(file="vocab.json", kind="vocab.json", entries=len(data),
                     parts={"vocab": sha(sorted((i, t) for t, i in data.items()))}), data


def text_vocab(name: str, buf: bytes) -> tuple[VocabFile, dict[str, int]]:
    """merges.txt (pairs), vocab.txt (one token a line) or a tiktoken file (base64 token, rank)."""
    lines = _lines(buf, name)
    kind: Literal["merges.txt", "vocab.txt", "tiktoken"] = (
        "merges.txt" if name == "merges.txt" else "vocab.txt" if name == "vocab.txt" else "tiktoken")
    if kind == "merges.txt" and any(len(ln.split(" ")) != 2 for ln in lines):
        raise Malformed("every merges.txt line must be two symbols separated by one space")
    if kind == "tiktoken" and any(len(ln.split()) != 2 or not ln.split()[1].isdigit() for ln in lines):
        raise Malformed("every tiktoken line must be a base64 token and its rank")
    vocab = {ln: i for i, ln in reversed(list(enumerate(lines)))} if kind == "vocab.txt" else {}
    return VocabFile(file=name, kind=kind, entries=len(lines), parts={"entries": sha(lines)}), vocab


# ---------------------------------------------------------------- the files around the vocabulary


def _token_text(value: Any) -> Any:
    """A special token as its text ({"content": ...} objects reduced to the content)."""
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    if isinstance(value, list):
        return [_token_text(v) for v in value]
    return value


def special_tokens(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """'file:role' -> token text (or list of texts), from tokenizer_config.json and special_tokens_map.json."""
    out = {}
    for file, cfg in configs.items():
        for role in ROLES + EXTRA_ROLES:
            if cfg.get(role) is not None:
                out[f"{file}:{'extra_special_tokens' if role in EXTRA_ROLES else role}"] = _token_text(cfg[role])
    return out


def settings(cfg: dict[str, Any]) -> dict[str, str]:
    """tokenizer_config.json keys that change tokenization or decoding, as JSON (hashed when long)."""
    out = {k: show(v) for k, v in cfg.items() if k not in COSMETIC}
    if cfg.get("added_tokens_decoder") is not None:
        out["added_tokens_decoder"] = show(cfg["added_tokens_decoder"])
    return out


def chat_templates(root: Path, cfg: Optional[dict[str, Any]]) -> tuple[dict[str, str], Optional[str]]:
    """name -> sha256 of the effective chat templates, and the file they came from."""
    found: dict[str, Any]
    if (root / "chat_template.jinja").is_file():
        found = {"default": _read(root, "chat_template.jinja").decode("utf-8", "replace")}
        source = "chat_template.jinja"
    elif (root / "chat_template.json").is_file():
        found, source = {"default": _object(root, "chat_template.json").get("chat_template")}, "chat_template.json"
    elif cfg is not None and cfg.get("chat_template") is not None:
        found, source = {"default": cfg["chat_template"]}, "tokenizer_config.json"
    else:
        found, source = {}, None
    tpl = found.get("default")
    if isinstance(tpl, list):  # [{"name": ..., "template": ...}]
        found = {str(t.get("name")) if isinstance(t, dict) else "?": t.get("template") if isinstance(t, dict) else t
                 for t in tpl}
    extra = root / "additional_chat_templates"
    if extra.is_dir():
        for p in sorted(extra.glob("*.jinja")):
            found[p.stem] = p.read_text(encoding="utf-8", errors="replace")
    return {name: sha(t) for name, t in found.items()}, source


def _vocabulary(root: Path, files: list[str], problems: Problems) -> tuple[list[VocabFile], dict[str, int]]:
    """Every vocabulary file's fingerprint, and the token -> id map a server would use (the first readable)."""
    def read(name: str) -> tuple[VocabFile, dict[str, int]]:
        if name == "tokenizer.json":
            return tokenizers_json(_json(root, name))
        if name == "vocab.json":
            return vocab_json(_json(root, name))
        if name in SENTENCEPIECE:
            return sentencepiece(name, _read(root, name))
        return text_vocab(name, _read(root, name))

    out: list[VocabFile] = []
    primary: Optional[dict[str, int]] = None
    for name in [f for f in files if is_vocab_file(f)]:
        try:
            vf, vocab = read(name)
        except (Malformed, OSError) as exc:
            problems.append((name, str(exc)))
            continue
        out.append(vf)
        if primary is None and vocab:
            primary = vocab
    return out, primary or {}


def _aux_json(root: Path, files: list[str], problems: Problems) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "generation_config.json"):
        if name in files:
            try:
                out[name] = _object(root, name)
            except (Malformed, OSError) as exc:
                problems.append((name, str(exc)))
    return out


def _added_ids(aux: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Tokens added outside tokenizer.json: added_tokens.json and tokenizer_config.json's added_tokens_decoder."""
    out = {t: i for t, i in aux.get("added_tokens.json", {}).items() if _is_id(i)}
    decoder = aux.get("tokenizer_config.json", {}).get("added_tokens_decoder")
    if isinstance(decoder, dict):
        for i, tok in decoder.items():
            if isinstance(tok, dict) and isinstance(tok.get("content"), str) and i.isdigit():
                out.setdefault(tok["content"], int(i))
    return out


def _generation(aux: dict[str, dict[str, Any]], config: dict[str, Any]) -> dict[str, str]:
    """generation_config.json's keys; without the file, the defaults transformers derives from config.json."""
    if "generation_config.json" in aux:
        return {k: show(v) for k, v in aux["generation_config.json"].items() if k not in GENERATION_COSMETIC}
    return {k: show(config[k]) for k in FROM_MODEL_CONFIG if config.get(k) is not None}


def fingerprint(root: Path, config: Optional[dict[str, Any]] = None) -> tuple[TokenizerSide, Problems]:
    """What decides tokenization in one checkpoint directory, and the problems of its tokenizer files.
    `config` (the checkpoint's config.json) gives the generation defaults when generation_config.json is absent."""
    files, problems = tokenizer_files(root), []  # type: list[str], Problems
    vocab_files, vocab = _vocabulary(root, files, problems)
    aux = _aux_json(root, files, problems)
    vocab = {**_added_ids(aux), **vocab}
    cfgs: dict[str, dict[str, Any]] = {f: aux[f] for f in ("tokenizer_config.json", "special_tokens_map.json")
                                       if f in aux}
    specials = special_tokens(cfgs)
    try:
        templates, template_file = chat_templates(root, aux.get("tokenizer_config.json"))
    except (Malformed, OSError) as exc:
        problems.append((next(f for f in ("chat_template.jinja", "chat_template.json") if f in files), str(exc)))
        templates, template_file = {}, None
    side = TokenizerSide(
        files=files, vocab_files=vocab_files, vocab_size=len(set(vocab.values())) if vocab else None,
        special_tokens={k: show(v) for k, v in specials.items()},
        special_token_ids={k: vocab.get(v) if isinstance(v, str) else None for k, v in specials.items()},
        settings=settings(aux.get("tokenizer_config.json", {})), chat_templates=templates,
        chat_template_file=template_file,
        generation=_generation(aux, config or {}))
    return side, problems
