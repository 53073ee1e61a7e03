"""Helpers for the conductor_facts_* lm-eval tasks (data ships alongside; nothing is fetched).

`load_local_json` is the tasks' `custom_dataset`: lm-eval passes it the YAML's `dataset_kwargs`
(and the task metadata), and it loads the `data_files` with the `json` builder, resolved against
THIS directory, so the tasks work from any working directory and with HF_DATASETS_OFFLINE=1.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load_local_json(data_files: dict[str, str] | None = None, **_: Any):
    import datasets

    if not data_files:
        raise ValueError("conductor_facts tasks need dataset_kwargs.data_files")
    files = {split: str((HERE / f).resolve()) for split, f in data_files.items()}
    for split, f in files.items():
        if not Path(f).is_file():
            raise FileNotFoundError(f"conductor_facts: data file for split {split!r} is missing: {f}")
    return datasets.load_dataset("json", data_files=files)


# ---- generative task -------------------------------------------------------------------------
#
# SmolLM2-135M-Instruct answers through its chat template in a sentence ("The capital of France is
# Paris."), and a terse few-shot style hurts its accuracy more than it helps, so the metric extracts
# the answer from the first sentence instead of demanding a bare answer:
#   1. first line, first sentence ("0.8" survives: a sentence ends at ". ", "! ", "? " or the end);
#   2. if the sentence has a copula ("is", "are", "was", "were", "equals", "has", "have", "="), keep what follows
#      the first one, minus a leading "called"/"known as"/"painted by";
#   3. cut at the first clause break (", " ";" ":" "(" " which " " who " " and ");
#   3b. if the span starts with a number ("24 hours in a day", "eight legs"), keep just the number;
#   4. normalise: lower case, no punctuation, no articles, single spaces.
# exact_match = the result equals one of the accepted answers (normalised the same way).
# contains    = an accepted answer occurs as whole words in the normalised first sentence (lenient).

_ARTICLES = re.compile(r"\b(the|a|an)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_SENT_END = re.compile(r"(?<=[.!?])\s")
_COPULA = re.compile(r"(?:\b(?:is|are|was|were|equals|has|have)\b|=)\s*(.+)$", re.IGNORECASE)
_LEAD = re.compile(r"^(?:called|known as|named|(?:\w+ )?by)\s+", re.IGNORECASE)
_CLAUSE = re.compile(r",\s|[;:(]|\s(?:which|who|and)\s", re.IGNORECASE)
_NUMBER = re.compile(r"^(\d[\d,]*(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty(?:[- ]\w+)?|"
                     r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand)\b", re.IGNORECASE)


def normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = (text or "").lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def first_sentence(text: str) -> str:
    line = (text or "").strip().split("\n", 1)[0].strip()
    return _SENT_END.split(line, 1)[0].strip()


def extract_answer(text: str) -> str:
    """The answer span of a response, before normalisation (see the rules above)."""
    sent = first_sentence(text)
    m = _COPULA.search(sent)
    span = m.group(1) if m else sent
    span = _LEAD.sub("", span.strip())
    span = _CLAUSE.split(span, 1)[0].strip()
    num = _NUMBER.match(span)
    return num.group(1) if num else span


def process_results_gen(doc: dict, results: list[str]) -> dict[str, float]:
    golds = [normalize(g) for g in doc["answers"]]
    pred = normalize(extract_answer(results[0]))
    sent = normalize(first_sentence(results[0]))
    em = float(bool(pred) and pred in golds)
    contains = float(any(g and re.search(r"(?<!\w)" + re.escape(g) + r"(?!\w)", sent) for g in golds))
    return {"exact_match": em, "contains": contains}
