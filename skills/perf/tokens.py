"""Output tokens counted with a local tokenizer, for runs whose server sent no usage fields (the
gate otherwise counts characters). Written into the record per run as {request_id: tokens}."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from skills.common.runner import USER_CONFIG_ERROR, SkillFailure


def _needs_counts(report: dict[str, Any]) -> list[dict[str, Any]]:
    done = (((report.get("benchmarks") or [{}])[0].get("requests") or {}).get("successful") or [])
    missing = [r for r in done if isinstance(r, dict) and isinstance(r.get("output"), str) and r["output"]
               and not (r.get("output_metrics") or {}).get("text_tokens")]
    return done if missing else []


def _load(path: Path) -> Any:
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise SkillFailure(USER_CONFIG_ERROR, f"cannot load the tokenizer {path}: {type(exc).__name__}: "
                                              f"{str(exc)[:200]}") from None


def add_tokenizer_counts(record: dict[str, Any], out_dir: Path, tokenizer: Path) -> None:
    tok = None
    for side in record["sides"]:
        for mf in side["modes"].values():
            for m in mf["measurements"]:
                for run in m.get("reference", []) + m.get("audit", []):
                    path = out_dir / run["report"]
                    if not path.is_file():
                        continue
                    done = _needs_counts(json.loads(path.read_text(encoding="utf-8")))
                    if not done:
                        continue
                    tok = tok or _load(tokenizer)
                    run["tokenizer_output_tokens"] = {
                        str(r.get("request_id")): len(tok(r.get("output") or "", add_special_tokens=False).input_ids)
                        for r in done}
