"""Host-side buffers of ``LocationEncoder.encode``: the output array it fills chunk by chunk, and a
malloc setting that lets one chunk's freed memory serve the next."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

__all__ = ["output_array", "keep_heap_warm"]

#: Bytes of the block ``keep_heap_warm`` allocates and frees (glibc raises its trim threshold to
#: twice this, capped by its 32 MiB maximum mmap threshold).
_HEAP_WARM_BYTES = 16 << 20


def output_array(out: Optional[np.ndarray], shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """``out`` checked for ``encode(out=...)``, or a new (N, width) array of ``dtype``."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array (np.empty or np.memmap) of shape {shape}, "
                        f"got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    if not np.issubdtype(out.dtype, np.floating):
        raise ValueError(f"out must have a floating dtype (float16, float32 or float64), got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only (a memmap opened with mode='r'?); open it with mode='r+' or 'w+'")
    return out


def keep_heap_warm() -> None:
    """Let the memory of one chunk's forward be reused by the next instead of page-faulting back.

    Each ``self(x)`` call allocates and frees a few MB (the layers' outputs). glibc's malloc gives
    freed heap memory above its trim threshold back to the OS, and the next chunk then page-faults
    it in again: 30,000-50,000 minor faults per 65,536 points, about 20 % of encode's time, in a
    fresh process. glibc raises that threshold (to twice the block size) whenever a block it had
    mmapped is freed ("dynamic mmap threshold", mallopt(3)), which every program freeing a
    tensor of a few MB triggers; freeing one 16 MB block here does it before the loop. The block
    is never touched (no page is faulted in); other allocators are unaffected.
    """
    block = torch.empty(_HEAP_WARM_BYTES, dtype=torch.uint8)
    del block
