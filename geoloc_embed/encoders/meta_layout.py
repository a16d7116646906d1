"""Build a model's module tree without allocating its parameters, to learn its exact state-dict layout
(names, shapes, dtypes) before any weights are read."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

__all__ = ["ParametersOnMeta"]


class ParametersOnMeta(TorchFunctionMode):
    """Inside: ``torch.empty`` (which ``nn.Linear``, ``nn.LayerNorm``, ``nn.Embedding``... use for their
    parameters) allocates on the meta device, and ``.cpu()`` of a meta tensor is a no-op.

    Building a model in this mode gives its exact state-dict layout without allocating its parameters.
    Other factories (``arange``, ``tensor``, ...) stay on the CPU, so constants computed (and cached) by
    position encoders are real; they are small, as the typed configs bound their sizes.
    """

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        if func is torch.empty:
            kwargs["device"] = "meta"
        elif func is Tensor.cpu and args and isinstance(args[0], Tensor) and args[0].is_meta:
            return args[0]
        return func(*args, **kwargs)
