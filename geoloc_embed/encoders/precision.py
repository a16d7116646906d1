"""Precision options of ``LocationEncoder.encode``: the compute dtype and the output storage dtype.

Compute dtypes (``encode(dtype=...)``):

* ``torch.float32`` (the default) and ``torch.float64`` run a model of that dtype (a float64 copy
  when the model is float32; the caller's model is never changed).
* ``torch.bfloat16`` and ``torch.float16`` run the float32 model under ``torch.autocast``: the
  matrix products (``nn.Linear``) run in the reduced dtype, everything autocast keeps in float32
  (position encodings, LayerNorm) stays float32, and the result is stored as float32 (or
  ``out_dtype``). On CPUs with native bfloat16 matrix units (AVX512-BF16, AMX) bfloat16 is the
  fastest CPU option; elsewhere oneDNN emulates it and it is several times *slower* than float32,
  so a :class:`PrecisionWarning` says so (``native_reduced_precision``). Accuracy: the minimum
  cosine similarity to float32 over 10,000 points including the poles and +-180 is asserted in
  ``tests/test_encode_precision.py``.

Output dtypes (``encode(out_dtype=...)``): float32 (default for float32 compute), float64, or
float16 for storage (half the bytes to write and keep; every value is rounded to 11 significant
bits, relative error <= 2**-11, and values beyond +-65504 would become inf, far outside any
embedding this package computes).
"""

import copy
import warnings
from typing import Any, Optional, Union

import numpy as np
import torch

__all__ = ["AUTOCAST_DTYPES", "OUTPUT_DTYPES", "PrecisionWarning", "native_reduced_precision", "compute_model",
           "output_dtype"]

#: Compute dtypes that run the float32 model under ``torch.autocast``.
AUTOCAST_DTYPES = (torch.bfloat16, torch.float16)
#: numpy dtypes ``encode`` can write its result in.
OUTPUT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class PrecisionWarning(UserWarning):
    """A reduced-precision option that this machine runs slower than float32 (emulated in software)."""


def native_reduced_precision(device_type: str, dtype: torch.dtype) -> bool:
    """True when ``device_type`` computes ``dtype`` (bfloat16/float16) matrix products natively.

    Accelerators are assumed to; on the CPU this asks oneDNN (AVX512-BF16 / AMX for bfloat16,
    AVX512-FP16 / AMX-FP16 for float16).
    """
    if device_type != "cpu":
        return True
    check_name = "_is_mkldnn_bf16_supported" if dtype == torch.bfloat16 else "_is_mkldnn_fp16_supported"
    try:
        return bool(getattr(torch.ops.mkldnn, check_name)())
    except (AttributeError, RuntimeError):  # a build without oneDNN: no native kernels either
        return False


def compute_model(model: Any, device: torch.device, dtype: Optional[torch.dtype]) -> tuple[Any, Optional[torch.dtype]]:
    """(model to run, autocast dtype or None) for ``encode(device=device, dtype=dtype)``.

    The model is ``model`` itself, or a copy on ``device`` in the compute dtype when either differs.
    A bfloat16/float16 request on a device without native support warns (``PrecisionWarning``).
    """
    autocast = dtype if dtype in AUTOCAST_DTYPES else None
    if autocast is not None:
        if not native_reduced_precision(device.type, autocast):
            warnings.warn(
                f"encode(dtype={autocast}) on this CPU: it has no native {str(autocast).replace('torch.', '')} "
                "matrix units (AVX512-BF16/AMX), so oneDNN emulates them and this runs several times slower "
                "than the float32 default; drop dtype= (or use out_dtype=np.float16 to halve the output's size)",
                PrecisionWarning, stacklevel=4)
        dtype = model.dtype
    elif dtype is None:
        dtype = model.dtype
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32, float64, bfloat16 or float16, got {dtype!r}")
    if device == model.device and dtype == model.dtype:
        return model, autocast
    return copy.deepcopy(model).to(device=device, dtype=dtype), autocast


def output_dtype(out_dtype: Union[None, str, type, np.dtype], compute: torch.dtype,
                 out: Optional[np.ndarray]) -> np.dtype:
    """The numpy dtype ``encode`` returns: ``out_dtype``, else ``out``'s, else the compute dtype's."""
    if out_dtype is None:
        if out is not None and isinstance(out, np.ndarray):
            return out.dtype
        return np.dtype(np.float64 if compute == torch.float64 else np.float32)
    torch_names = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}
    try:
        wanted = np.dtype(torch_names.get(out_dtype, out_dtype) if isinstance(out_dtype, torch.dtype) else out_dtype)
    except TypeError:
        wanted = None
    if wanted is None or wanted not in OUTPUT_DTYPES:  # (np.dtype == None is True: float64 is numpy's default)
        raise ValueError(f"out_dtype must be np.float16, np.float32 or np.float64, got {out_dtype!r}")
    if out is not None and isinstance(out, np.ndarray) and out.dtype != wanted:
        raise ValueError(f"out has dtype {out.dtype} but out_dtype={wanted}; pass one of them, or make them agree")
    return wanted
