"""The measurement: calibrate once, then switch modelopt's quantizers on one layer group at a time.

    switch = QuantizerSwitch(model, groups)      # after mtq.quantize(model, cfg, loop)
    switch.only(g)   # quantizers of group g on, every other group's off ("alone")
    switch.all_but(g)  # every group on except g ("restore": g kept unquantized, as an exclusion would)
    switch.all_on()  # what the calibration enabled

A disabled modelopt TensorQuantizer still applies its pre_quant_scale (modelopt's forward multiplies
by it before checking `_disabled`), and SmoothQuant/AWQ divided the weight by the same scale, so a
switched-off group computes the unquantized function exactly: the only difference between two
measurements is which groups are quantized. The quantizers keep the amax the joint calibration gave
them (an approximation of calibrating one group alone: the activations feeding a group were seen
with the other groups quantized). `heldout_nll` is the mean next-token loss, in nats per token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from skills.sensitivity.groups import Group


def heldout_nll(model: Any, ids: Any, device: str, kwargs: dict[str, Any], batch: int = 4) -> float:
    """Mean token loss over the rows of `ids` (every row the same length: the mean of the rows' means)."""
    import torch

    total, rows = 0.0, int(ids.shape[0])
    with torch.no_grad():
        for i in range(0, rows, batch):
            chunk = ids[i:i + batch].to(device)
            out = model(chunk, labels=chunk, **kwargs)
            total += float(out.loss) * chunk.shape[0]
    return total / rows


def _quantizers(module: Any) -> list[Any]:
    from modelopt.torch.quantization.nn import TensorQuantizer

    return [q for q in module.modules() if isinstance(q, TensorQuantizer)]


class QuantizerSwitch:
    """Turns the quantizers the calibration enabled on and off by group (see the module docstring)."""

    def __init__(self, model: Any, groups: Sequence[Group]):
        mods = dict(model.named_modules())
        self.groups = list(groups)
        self.by_group: dict[str, list[Any]] = {}
        for g in self.groups:
            qs = [q for name in g.modules for q in _quantizers(mods[name]) if q.is_enabled]
            self.by_group[g.key] = qs
        self.empty = [g.key for g in self.groups if not self.by_group[g.key]]

    def _set(self, on: Callable[[str], bool]) -> None:
        for key, qs in self.by_group.items():
            for q in qs:
                q.enable() if on(key) else q.disable()

    def all_on(self) -> None:
        self._set(lambda k: True)

    def all_off(self) -> None:
        self._set(lambda k: False)

    def only(self, g: Group) -> None:
        self._set(lambda k: k == g.key)

    def all_but(self, g: Group) -> None:
        self._set(lambda k: k != g.key)


def sweep(switch: QuantizerSwitch, nll: Callable[[], float], modes: Sequence[str],
          progress: Callable[[int, int, str], None]) -> dict[str, Any]:
    """The loss with nothing, everything, and each group alone / all but each group quantized."""
    steps = len(switch.groups) * len(modes)
    switch.all_off()
    off = nll()
    switch.all_on()
    full = nll()
    per: dict[str, dict[str, float]] = {g.key: {} for g in switch.groups}
    done = 0
    for mode in modes:
        for g in switch.groups:
            switch.only(g) if mode == "alone" else switch.all_but(g)
            per[g.key][mode] = nll()
            done += 1
            progress(done, steps, f"{mode} {g.key}: held-out loss {per[g.key][mode]:.4f} (unquantized {off:.4f}, "
                                  f"all quantized {full:.4f})")
    switch.all_on()
    return {"unquantized": off, "all_quantized": full, "per_group": per}
