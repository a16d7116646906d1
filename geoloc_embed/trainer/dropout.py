"""A faster CPU dropout for training, swapped into a model's ``nn.Dropout`` modules for the run."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn

__all__ = ["FastCPUDropout", "use_fast_cpu_dropout", "restore_dropout"]


class FastCPUDropout(nn.Dropout):
    """``nn.Dropout`` whose CPU training path draws its mask as ``rand >= p`` (float32 uniform).

    Same distribution and scaling as ``F.dropout`` (keep with probability 1 - p, scale by
    1 / (1 - p)); about 3x faster than the CPU ``bernoulli_`` kernel, which otherwise costs a
    fifth of a CSP pre-training step on CPU. The uniforms are float32 whatever the dtype of ``x``
    (bfloat16 under autocast), so a bf16 run draws the same masks as a float32 run with the same
    seed. On other devices, in eval mode, or with p = 0 it is plain ``F.dropout``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.p >= 1.0:
            return super().forward(x)
        keep = torch.rand(x.shape, dtype=torch.float32, device=x.device) >= self.p
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
