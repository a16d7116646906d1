"""A faster CPU dropout for training, swapped into a model's ``nn.Dropout`` modules for the run."""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from torch import Tensor, nn

__all__ = ["FastCPUDropout", "use_fast_cpu_dropout", "restore_dropout", "keep_mask", "uniform_bytes"]


def uniform_bytes(n: int, device: Any = None) -> Tensor:
    """(n,) uint8, each uniform on 0..255 and independent, from torch's global generator.

    Eight bytes per int64 drawn over the full 64-bit range (``random_(-2**63, None)``): about 8x
    fewer generator calls than ``torch.rand``.
    """
    words = torch.empty(((n + 7) // 8,), dtype=torch.int64, device=device).random_(-2 ** 63, None)
    return words.view(torch.uint8)[:n]


def keep_mask(shape: torch.Size, p: float, device: Any = None) -> Tensor:
    """Bool mask of ``shape``, each entry True (kept) with probability exactly 1 - p.

    When 256 p is an integer (p = 0.5, 0.25, 0.125, ...) an entry is one uniform byte >= 256 p;
    otherwise a float32 uniform >= p (torch's own dropout resolution).
    """
    threshold = p * 256.0
    if threshold == int(threshold):
        return uniform_bytes(math.prod(shape), device).view(shape) >= int(threshold)
    return torch.rand(shape, dtype=torch.float32, device=device) >= p


class FastCPUDropout(nn.Dropout):
    """``nn.Dropout`` whose CPU training path draws its mask with ``keep_mask`` (exact Bernoulli(1 - p)).

    Same distribution and scaling as ``F.dropout`` (keep with probability 1 - p, scale by
    1 / (1 - p)), 2-4x faster than the CPU ``bernoulli_`` kernel, which otherwise costs a fifth
    of a CSP pre-training step on CPU: one random byte per entry when 256 p is an integer (CSP's
    p = 0.5), else a float32 uniform. The mask does not depend on the dtype of ``x`` (bfloat16
    under autocast), so a bf16 run draws the same masks as a float32 run with the same seed. On
    other devices, in eval mode, or with p = 0 it is plain ``F.dropout``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.p >= 1.0:
            return super().forward(x)
        keep = keep_mask(x.shape, self.p, x.device)
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))


def use_fast_cpu_dropout(module: nn.Module) -> list[nn.Module]:
    """Turn every plain ``nn.Dropout`` inside ``module`` into ``FastCPUDropout`` (in place).

    Only the class changes (no parameters, no state): the state_dict and the saved model are
    unaffected. Returns the changed modules (``restore_dropout`` turns them back).
    """
    changed: list[nn.Module] = []
    for sub in module.modules():
        if type(sub) is nn.Dropout:
            sub.__class__ = FastCPUDropout
            changed.append(sub)
    return changed


def restore_dropout(modules: Iterable[nn.Module]) -> None:
    """Undo ``use_fast_cpu_dropout``."""
    for sub in modules:
        if type(sub) is FastCPUDropout:
            sub.__class__ = nn.Dropout  # type: ignore[assignment]
