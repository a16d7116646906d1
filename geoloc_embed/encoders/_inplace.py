"""When a module's ``forward`` may overwrite the fresh tensors it creates (in-place kernels).

Speed work in this package lives inside each module's own ``forward``: one code path whose
kernels write into the tensors that ``forward`` itself just allocated (a Linear layer's output, a
phase tensor) when nothing needs the values they replace. That is the case exactly when autograd
does not record the call; ``may_overwrite`` is that flag. It is False (out-of-place kernels only)
when autograd records (grad mode on and an input or parameter requires grad) and whenever the call
is traced, scripted, compiled or exported, so that a graph captured from ``forward`` holds only
functional operations. The flag never allows overwriting a caller's tensor.
"""

from typing import Optional

import torch
from torch import Tensor

__all__ = ["may_overwrite"]


def _is_capturing() -> bool:
    """True while torch.jit traces/scripts or torch.compile/torch.export captures a graph."""
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return True
    compiler = getattr(torch, "compiler", None)
    for name in ("is_compiling", "is_exporting"):  # torch >= 2.3 and >= 2.4
        check = getattr(compiler, name, None)
        if check is not None and check():
            return True
    return False


def may_overwrite(*tensors: Optional[Tensor]) -> bool:
    """True when a forward taking ``tensors`` (inputs and parameters) may use in-place kernels on
    the tensors it creates itself: autograd does not record (``torch.no_grad``, inference mode, or
    nothing requires grad) and no graph is being captured.

    ``None`` entries (an absent bias) are ignored; anything that is not a real tensor (an FX proxy)
    counts as recorded.
    """
    if _is_capturing():
        return False
    if not torch.is_grad_enabled():
        return True
    for tensor in tensors:
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor) or tensor.requires_grad:
            return False
    return True
