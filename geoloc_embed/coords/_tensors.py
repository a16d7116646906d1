"""Array plumbing shared by the coords modules: user values -> float tensors and back, number formatting.

Private to :mod:`geoloc_embed.coords`; no geometry here.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ..errors import CoordinateError

__all__ = ["Device", "np_to_tensor", "float_tensor", "check_last_dim", "fmt", "first_true"]

Device = Union[str, torch.device, None]


def np_to_tensor(arr: np.ndarray) -> Tensor:
    """torch.from_numpy that also accepts read-only, negative-stride and non-native-byte-order arrays."""
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    elif not arr.flags.writeable or any(st < 0 for st in arr.strides):
        arr = arr.copy()
    return torch.from_numpy(arr)


def float_tensor(x: Any, what: str) -> Tuple[Tensor, Callable[[Tensor], Any]]:
    """(float tensor, function converting a result back to the caller's container type).

    Tensors stay tensors (integer ones become the default float dtype); ndarrays and array-likes
    come back as ndarrays (float16 upcast to float32, integers to float64); Python scalars as float.
    """
    if isinstance(x, Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise CoordinateError(f"{what} must be real numbers, got a tensor of dtype {x.dtype}")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return x, lambda t: t
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise CoordinateError(f"{what} must be real numbers, got an array of dtype {arr.dtype}")
    if arr.dtype.kind != "f" or arr.dtype.itemsize > 8:
        arr = arr.astype(np.float64)
    elif arr.dtype.itemsize < 4:
        arr = arr.astype(np.float32)
    if isinstance(x, np.ndarray) or arr.ndim > 0:
        return np_to_tensor(arr), lambda t: t.numpy()
    return np_to_tensor(arr), lambda t: float(t)


def check_last_dim(t: Tensor, size: int, what: str) -> None:
    """Raise a CoordinateError unless ``t`` has shape (..., size)."""
    if t.ndim == 0 or t.shape[-1] != size:
        raise CoordinateError(f"{what} expects an array of shape (..., {size}), got shape {tuple(t.shape)}")


def fmt(value: float, dtype: torch.dtype) -> str:
    """Shortest decimal text that identifies ``value`` in ``dtype`` ('95.0', '5200000.0', 'nan', '3.0e+38')."""
    scalar = np.float32(value) if dtype in (torch.float32, torch.float16, torch.bfloat16) else np.float64(value)
    if math.isfinite(value) and abs(value) >= 1e16:
        return np.format_float_scientific(scalar, trim="0")
    return np.format_float_positional(scalar, trim="0")


def first_true(mask: Any) -> int:
    """Index of the first True in a 1-D boolean ndarray or tensor (0 if there is none)."""
    if isinstance(mask, Tensor):
        return int(torch.argmax(mask.to(torch.uint8)))
    return int(np.argmax(np.asarray(mask)))
