"""The engine-agnostic batch function: a batch with lon/lat columns in, the same batch with embeddings out.

:func:`embed_batch` takes a dict of numpy arrays, a pandas DataFrame, or a pyarrow RecordBatch or
Table, and returns the same kind with every input column kept and one embedding column added:

========================  ==========================================================================
input                     embedding column
========================  ==========================================================================
dict of arrays            (N, D) numpy array (Ray Data's tensor column for ``batch_format="numpy"``)
pandas DataFrame          ``pd.ArrowDtype(pa.list_(pa.float32(), D))`` (Arrow-backed, writes to Parquet)
pyarrow RecordBatch/Table ``fixed_size_list<float>[D]`` (``halffloat`` with ``out_dtype=np.float16``)
========================  ==========================================================================

Every engine adapter (``geoloc_embed.integrations.ray``, ``.dask``, ``.spark``) and the
``geoloc-embed embed`` command are thin layers over it. Invalid rows (NaN/null, |lat| > 90,
|lon| > 180 without ``wrap``) follow an explicit policy, ``on_invalid``:

* ``"error"`` (default): raise a ``CoordinateError`` naming the first bad row (``first_row`` + its
  index in the batch) and the fix;
* ``"skip"``: drop those rows (the output has fewer rows);
* ``"nan"``: keep them with an all-NaN embedding and add a boolean ``<column>_valid`` column.

Wrong types are errors under every policy (booleans, strings: the library refuses them).
"""

import re
import sys
from typing import Any, Mapping, Optional

import numpy as np

from ..coords import find_lonlat_columns
from ..errors import CoordinateError
from .models import ModelRef, load_encoder

__all__ = ["INVALID_POLICIES", "embed_batch", "encode_columns", "valid_rows", "embeddings_to_numpy",
           "shift_rows"]

INVALID_POLICIES = ("error", "skip", "nan")
#: |lon| beyond which ``wrap=True`` refuses float64 longitudes (``geoloc_embed.coords.sphere.wrap_limit``).
_WRAP_LIMIT_F64 = 2.0 ** 53


def _module(name: str) -> Any:
    return sys.modules.get(name)  # an engine's batch can only be of a type whose module is imported


def _kind(batch: Any) -> str:
    pa = _module("pyarrow")
    if pa is not None and isinstance(batch, pa.RecordBatch):
        return "arrow-batch"
    if pa is not None and isinstance(batch, pa.Table):
        return "arrow-table"
    pd = _module("pandas")
    if pd is not None and isinstance(batch, pd.DataFrame):
        return "pandas"
    if isinstance(batch, Mapping):
        return "dict"
    raise TypeError(f"embed_batch takes a dict of numpy arrays, a pandas DataFrame or a pyarrow RecordBatch/Table, "
                    f"got {type(batch).__name__}; for a plain (N, 2) array use LocationEncoder.encode")


def _names(batch: Any, kind: str) -> list:
    if kind.startswith("arrow"):
        return list(batch.schema.names)
    return list(batch.columns) if kind == "pandas" else list(batch.keys())


def _values(batch: Any, kind: str, name: Any) -> Any:
    """One input column as what ``to_canonical`` reads (nulls become NaN; types are left for it to judge)."""
    if kind.startswith("arrow"):
        return batch.column(name).to_numpy(zero_copy_only=False)
    return batch[name]


def shift_rows(message: str, offset: int) -> str:
    """A coordinate error's message with its batch-relative row numbers made absolute (``+ offset``)."""
    if not offset:
        return message
    message = re.sub(r"\brow (\d+)\b", lambda m: f"row {int(m.group(1)) + offset}", message)
    return re.sub(r"\((\d+) of (\d+) rows\)",
                  lambda m: f"({m.group(1)} of the {m.group(2)} rows {offset}-{offset + int(m.group(2)) - 1})",
                  message)


def _as_float64(values: Any) -> Optional[np.ndarray]:
    """float64 copy/view of a numeric column (pandas NA -> NaN); None when it is not numeric (or boolean)."""
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if kind in ("i", "u", "f") and hasattr(values, "to_numpy"):
        try:
            return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError):
            return None
    arr = np.asarray(values)
    return arr.astype(np.float64, copy=False) if arr.dtype.kind in "iuf" else None


def valid_rows(lon: np.ndarray, lat: np.ndarray, wrap: bool = False) -> np.ndarray:
    """(N,) bool: the rows ``to_canonical`` accepts (finite, |lat| <= 90, |lon| <= 180 or wrappable)."""
    limit = _WRAP_LIMIT_F64 if wrap else 180.0
    with np.errstate(invalid="ignore"):
        return np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= limit)


def encode_columns(model: Any, lon: Any, lat: Any, *, lon_name: Any = "lon", lat_name: Any = "lat",
                   on_invalid: str = "error", first_row: int = 0, wrap: bool = False,
                   **encode_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Embed two coordinate columns under an invalid-row policy.

    Args:
        model: a ``LocationEncoder``.
        lon, lat: 1-D columns (arrays, pandas Series) of degrees; names are used in error messages.
        on_invalid: "error", "skip" or "nan" (see the module docstring).
        first_row: row number of the first row, so that errors name absolute rows.
        wrap: wrap longitudes outside [-180, 180].
        encode_kwargs: ``batch_size``, ``device``, ``dtype``, ``out_dtype`` for ``encode``.

    Returns:
        (embedding, valid): embedding (N, D), or (n_valid, D) with "skip", NaN rows where invalid
        with "nan"; valid (N,) bool, all True with "error".
    """
    if on_invalid not in INVALID_POLICIES:
        raise ValueError(f"on_invalid must be one of {', '.join(INVALID_POLICIES)}, got {on_invalid!r}")
    columns = {lon_name: lon, lat_name: lat}
    try:
        if on_invalid == "error":
            emb = model.encode(columns, wrap=wrap, lon_col=lon_name, lat_col=lat_name, **encode_kwargs)
            return emb, np.ones(emb.shape[0], dtype=bool)
        lon64, lat64 = _as_float64(lon), _as_float64(lat)
        if lon64 is None or lat64 is None:
            # not numbers (or booleans): the library's own error says what they are
            model.encode(columns, wrap=wrap, lon_col=lon_name, lat_col=lat_name, **encode_kwargs)
            raise CoordinateError(f"columns {lon_name!r} and {lat_name!r} must be numeric degrees")
        valid = valid_rows(lon64, lat64, wrap)
        kept = model.encode({lon_name: lon64[valid], lat_name: lat64[valid]}, wrap=wrap, lon_col=lon_name,
                            lat_col=lat_name, **encode_kwargs)
    except CoordinateError as exc:
        if first_row:
            raise CoordinateError(shift_rows(str(exc), first_row)) from exc
        raise
    if on_invalid == "skip":
        return kept, valid
    emb = np.full((valid.shape[0], kept.shape[1]), np.nan, dtype=kept.dtype)
    emb[valid] = kept
    return emb, valid


def _arrow_embeddings(emb: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(emb).reshape(-1)), emb.shape[1])


def embeddings_to_numpy(values: Any) -> np.ndarray:
    """An embedding column (Arrow fixed-size list, a pandas ArrowDtype Series, an (N, D) array) -> (N, D) array."""
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return values
    pa = _module("pyarrow")
    if pa is not None:
        array = values
        if not isinstance(array, (pa.Array, pa.ChunkedArray)):
            array = pa.array(values)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_fixed_size_list(array.type):
            width = array.type.list_size
            return array.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
    return np.stack([np.asarray(row) for row in values])


def embed_batch(batch: Any, model: ModelRef = None, *, lon_col: Any = None, lat_col: Any = None,
                column: str = "embedding", out_dtype: Any = np.float32, on_invalid: str = "error",
                valid_column: Optional[str] = None, wrap: bool = False, batch_size: int = 65536,
                device: Any = None, dtype: Any = None, first_row: int = 0, local_files_only: bool = False) -> Any:
    """Embed the points of one batch; the same kind of batch comes back with an embedding column.

    Args:
        batch: dict of 1-D numpy arrays, pandas DataFrame, pyarrow RecordBatch or Table, with a
            longitude and a latitude column in degrees.
        model: a ``LocationEncoder``, or a reference loaded once per process
            (``geoloc_embed.integrations.models.load_encoder``); None for the bundled default.
        lon_col, lat_col: column names; default: found case-insensitively among lon/lng/long/
            longitude/x and lat/latitude/y.
        column: name of the added embedding column (must not exist yet).
        out_dtype: np.float32 (default) or np.float16 (half the size; 11 significant bits).
        on_invalid: "error", "skip" or "nan" (see the module docstring).
        valid_column: name of the mask column added with "nan" (default ``f"{column}_valid"``).
        wrap: wrap longitudes outside [-180, 180] instead of treating them as invalid.
        batch_size, device, dtype: passed to ``LocationEncoder.encode``.
        first_row: absolute row number of the batch's first row, used in error messages.
        local_files_only: load a model reference without downloading.

    Returns:
        The batch's kind, every input column kept (rows dropped with "skip"), plus ``column``
        (and ``valid_column`` with "nan"). Row i's embedding equals ``model.encode`` of row i.
    """
    kind = _kind(batch)
    names = _names(batch, kind)

    lon_name, lat_name = find_lonlat_columns(names, lon_col, lat_col)
    valid_column = valid_column or f"{column}_valid"
    for added in (column, valid_column) if on_invalid == "nan" else (column,):
        if added in names:
            raise ValueError(f"the batch already has a column {added!r}; choose another name with "
                             f"{'column' if added == column else 'valid_column'}=")
    encoder = load_encoder(model, local_files_only=local_files_only)
    emb, valid = encode_columns(encoder, _values(batch, kind, lon_name), _values(batch, kind, lat_name),
                                lon_name=lon_name, lat_name=lat_name, on_invalid=on_invalid, first_row=first_row,
                                wrap=wrap, batch_size=batch_size, device=device, dtype=dtype, out_dtype=out_dtype)
    drop = on_invalid == "skip" and not bool(valid.all())
    result: Any
    if kind == "dict":
        result = {key: (np.asarray(value)[valid] if drop else value) for key, value in batch.items()}
        result[column] = emb
    elif kind == "pandas":
        import pandas as pd

        frame = batch[valid] if drop else batch.copy(deep=False)
        frame[column] = pd.Series(pd.arrays.ArrowExtensionArray(_arrow_embeddings(emb)), index=frame.index)
        result = frame
    else:
        import pyarrow as pa

        table = batch.filter(pa.array(valid)) if drop else batch
        field = pa.field(column, pa.list_(pa.from_numpy_dtype(emb.dtype), emb.shape[1]))
        if kind == "arrow-table":
            result = table.append_column(field, _arrow_embeddings(emb))
        else:
            result = pa.RecordBatch.from_arrays([*table.columns, _arrow_embeddings(emb)],
                                                schema=table.schema.append(field))
    if on_invalid == "nan":
        if kind.startswith("arrow"):
            import pyarrow as pa

            mask = pa.array(valid)
            if kind == "arrow-table":
                result = result.append_column(pa.field(valid_column, pa.bool_()), mask)
            else:
                result = pa.RecordBatch.from_arrays([*result.columns, mask],
                                                    schema=result.schema.append(pa.field(valid_column, pa.bool_())))
        else:
            result[valid_column] = valid if kind == "dict" else np.asarray(valid)
    return result
