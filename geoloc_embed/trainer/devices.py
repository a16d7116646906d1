"""Devices and mixed precision for the training step.

``amp`` (the run config's field) chooses the autocast precision of the step's forward pass:

* ``"none"``: float32 everywhere (the default);
* ``"bf16"``: ``torch.autocast(device.type, dtype=torch.bfloat16)`` on CUDA **and on CPU**: the
  matrix products of the location encoder, the image projection and the class head run in
  bfloat16 (8 mantissa bits, float32's exponent range, so no loss scaling is needed); the loss
  is computed in float32 (``full_precision``); parameters, gradients and the optimizer state stay
  float32. On a CPU without native bfloat16 matrix instructions (AVX512-BF16 or AMX) oneDNN
  emulates them and the step is slower than in float32; ``resolve_amp`` warns then;
* ``"fp16"``: float16 autocast with a ``GradScaler``, CUDA only (on CPU it runs in float32, with a
  warning).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Optional

import torch

__all__ = [
    "AMP_MODES",
    "resolve_device",
    "resolve_amp",
    "cpu_has_native_bf16",
    "autocast",
    "full_precision",
]

logger = logging.getLogger("geoloc_embed.trainer")

#: Values of the run configs' ``amp`` field.
AMP_MODES = ("none", "bf16", "fp16")


def resolve_device(name: Optional[str] = "auto", local_rank: int = 0) -> torch.device:
    """"auto" (or "") -> cuda:<local_rank> when CUDA is available, else cpu; "cuda" -> cuda:<local_rank>."""
    if name in ("auto", "", None):
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank)
    return dev


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 matrix products natively on this CPU (AVX512-BF16 or AMX).

    Without them CPU autocast still works, but bf16 matmuls are emulated and slower than float32.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch built without oneDNN
        return False


def resolve_amp(device: torch.device, amp: str) -> str:
    """The precision the step really uses on ``device`` for the config value ``amp``; logs why when it differs.

    Returns "none", "bf16" or "fp16". "fp16" on a CPU becomes "none" (float16 autocast needs the
    CUDA GradScaler); "bf16" on a CPU stays "bf16" but warns when the CPU has no native bf16.
    """
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {amp!r}")
    if amp == "none" or device.type == "cuda":
        return amp
    if amp == "fp16":
        logger.warning("amp=fp16 runs only on CUDA (it needs a GradScaler): training in float32 on %s; "
                       "use amp=bf16 for mixed precision on a CPU", device)
        return "none"
    if device.type == "cpu" and not cpu_has_native_bf16():
        logger.warning("amp=bf16 on a CPU without native bfloat16 matrix instructions (AVX512-BF16/AMX): "
                       "oneDNN emulates them, so the step is slower than in float32 (amp=none)")
    return amp


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """Autocast context of the step's forward pass: bf16 (CUDA or CPU), fp16 (CUDA), or none.

    ``amp`` is the value ``resolve_amp`` returned (an "fp16" on CPU is treated as "none").
    """
    if amp == "none" or (amp == "fp16" and device.type != "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """Disable autocast on ``device`` (for the loss maths, which stay float32 under bf16/fp16 AMP).

    Tensors made under autocast keep their dtype: cast them with ``.float()`` inside this block.
    """
    return torch.autocast(device_type=device.type, enabled=False)
