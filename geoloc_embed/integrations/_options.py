"""The options every adapter forwards to :func:`~geoloc_embed.integrations.batch.embed_batch`, checked once."""

from typing import Any

import numpy as np

from .batch import INVALID_POLICIES

__all__ = ["batch_options"]


def batch_options(*, lon_col: Any = None, lat_col: Any = None, column: str = "embedding", out_dtype: Any = np.float32,
                  on_invalid: str = "error", valid_column: Any = None, wrap: bool = False, batch_size: int = 65536,
                  device: Any = None, dtype: Any = None, local_files_only: bool = False) -> dict[str, Any]:
    """``embed_batch``'s keyword options as a dict, validated up front (on the driver, not in a worker)."""
    if on_invalid not in INVALID_POLICIES:
        raise ValueError(f"on_invalid must be one of {', '.join(INVALID_POLICIES)}, got {on_invalid!r}")
    if np.dtype(out_dtype) not in (np.dtype(np.float16), np.dtype(np.float32)):
        raise ValueError(f"out_dtype must be np.float32 or np.float16, got {out_dtype!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return {"lon_col": lon_col, "lat_col": lat_col, "column": column, "out_dtype": np.dtype(out_dtype),
            "on_invalid": on_invalid, "valid_column": valid_column, "wrap": bool(wrap), "batch_size": batch_size,
            "device": device, "dtype": dtype, "local_files_only": bool(local_files_only)}
