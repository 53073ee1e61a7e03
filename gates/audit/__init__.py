"""audit gate: caching detection after compare (CACHING_DETECTED). The rules are in gates/audit/decide.py."""

from __future__ import annotations

import argparse
import textwrap

from gates.audit.collect import collect
from gates.audit.decide import decide
from gates.audit.models import AuditFacts
from gates.contract import GateSpec


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline-checkpoint", metavar="DIR", default=None,
                   help="baseline checkpoint directory to hash (default: the evaluated path, if local)")
    p.add_argument("--candidate-checkpoint", metavar="DIR", default=None,
                   help="candidate checkpoint directory to hash (default: the evaluated path, if local)")



def _wrap(text: str) -> str:
    return "\n".join(textwrap.fill(par, 96) if par else "" for par in text.split("\n"))


SPEC = GateSpec(
    name="audit",
    facts_model=AuditFacts,
    decide=decide,
    summary=_wrap(
        "Audit gate (caching detection), run after compare: are the candidate's results really the "
        "candidate's?\n\nCACHING_DETECTED when an eval cache was used (or its use is not recorded) on "
        "either side; when the candidate evaluated the baseline's own model or weights; when a "
        "loglikelihood/multiple-choice task with >= 20 documents reproduces every baseline "
        "log-likelihood within 1e-9 (no differently quantized checkpoint can); or when every "
        "generative task with >= 20 documents and mean responses >= 32 chars is 100% byte-identical "
        "to the baseline and no log-likelihood shows a different model. SAMPLE_ACCOUNTING_FAILED when "
        "no document could be compared, or when a document carries different log-likelihood requests on the "
        "two sides. Identities are compared by the rule compare shares (gates/identity.py). The numbers are "
        "in the evidence either way."),
    collect=collect,
    artifacts_help="BASELINE_LMEVAL_DIR CANDIDATE_LMEVAL_DIR (reads DIR/<model>/samples_<task>_<ts>.jsonl)",
    add_arguments=_add_arguments,
)
