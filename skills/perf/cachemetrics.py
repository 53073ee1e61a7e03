"""vLLM's prefix-cache hit counter, read from its Prometheus /metrics before and after a run: if it
moved during a TEST04 run, the server answered repeated prompt prefixes from its cache.

    hits_total("vllm:prefix_cache_hits_total{engine=\"0\"} 12.0\n")   # 12.0
    hits_total("# nothing here\n")                                      # None: not a vLLM, or no counter
"""

from __future__ import annotations

import re
from typing import Optional

# prometheus_client exposes the counter `vllm:prefix_cache_hits` as `..._total` (older vLLM: without _total)
_LINE = re.compile(r"^vllm:prefix_cache_hits(?:_total)?(?:\{[^}]*\})?\s+([0-9.eE+-]+)(?:\s+\d+)?\s*$")


def hits_total(text: Optional[str]) -> Optional[float]:
    """The counter summed over its series (engines, models); None when absent."""
    if not text:
        return None
    values = [float(m.group(1)) for m in (_LINE.match(ln.strip()) for ln in text.splitlines()) if m]
    return sum(values) if values else None


def delta(before: Optional[float], after: Optional[float]) -> Optional[int]:
    """Hits during a run; None when either read failed or the counter went back (a restart): not measurable."""
    if before is None or after is None or after < before:
        return None
    return int(round(after - before))
