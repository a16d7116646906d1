"""What a run builds around its model before the loop: the optimizer, the wrapped model, epoch seeds, batch gathers."""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor, nn

from .distributed import DistContext
from .dropout import use_fast_cpu_dropout

__all__ = ["epoch_generator", "rows", "make_adam", "prepare_run_model"]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator that orders epoch ``epoch`` (same on every rank)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + 7_919 * (int(epoch) + 1)) % (2 ** 63))


def rows(tensor: Tensor, idx: Tensor, device: torch.device) -> Tensor:
    """``tensor[idx]`` on ``device``: an on-device gather, or one CPU gather and one transfer."""
    if tensor.device == device:
        return tensor[idx if idx.device == device else idx.to(device, non_blocking=True)]
    out = tensor[idx.cpu()]
    if device.type == "cuda":
        out = out.pin_memory()
    return out.to(device, non_blocking=True)


def make_adam(params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (the authors' optimizer), with the fused single-kernel update where torch has it.

    The fused kernel computes the same update as the per-tensor loop (deterministically) in one
    pass over the parameters, which matters on CPU where the loop's many elementwise kernels
    cost as much as a fair share of the step.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def prepare_run_model(model: nn.Module, cfg: Any, device: torch.device,
                      dist_ctx: DistContext) -> tuple[nn.Module, list[nn.Module]]:
    """Wrap ``model`` as the run config asks: fast CPU dropout, DDP, ``torch.compile``.

    Returns the module to call in the training step and the dropout modules to restore afterwards
    (``restore_dropout``). ``model`` itself stays the module whose state is saved.
    """
    swapped = use_fast_cpu_dropout(model) if cfg.fast_cpu_dropout and device.type == "cpu" else []
    run_model: nn.Module = model
    if dist_ctx.enabled:
        run_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        run_model = torch.compile(run_model)  # type: ignore[assignment]
    return run_model, swapped
