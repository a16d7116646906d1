"""``geoloc-embed embed`` on one file: CSV/Parquet/.npy in, ``.npy`` or Parquet out, streamed in chunks.

Readers yield the raw coordinate columns chunk by chunk (the library judges their types: booleans
and strings are refused); writers stream into a temporary file beside the output (``.NAME.*.geoloc-embed.tmp``)
that is renamed over it only when every row is written, and deleted on any failure, Ctrl-C or SIGTERM.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from ..coords import find_lonlat_columns
from ..errors import CoordinateError
from ..integrations.batch import encode_columns
from ._common import CLIError

__all__ = ["TMP_SUFFIX", "Chunk", "read_chunks", "temp_beside", "remove_stale_temps", "AtomicParquetWriter",
           "NpyWriter", "cli_hints", "run_file"]

#: Suffix of every temporary file ``embed`` writes (stale ones from a killed run are removed on the next run).
TMP_SUFFIX = ".geoloc-embed.tmp"

#: (absolute row of the chunk's first row, longitude column name, its values, latitude name, values)
Chunk = tuple[int, str, Any, str, Any]


def temp_beside(target: Path) -> Path:
    """A new, unique, hidden temporary file beside ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    return Path(name)


def remove_stale_temps(directory: Path, name: Optional[str] = None) -> int:
    """Delete temporary files a killed (SIGKILL) run left in ``directory`` (recursively), or only ``name``'s."""
    if not directory.is_dir():
        return 0
    pattern = f".{name}.*{TMP_SUFFIX}" if name else f".*{TMP_SUFFIX}"
    found = list(directory.glob(pattern) if name else directory.rglob(pattern))
    for path in found:
        path.unlink(missing_ok=True)
    return len(found)


def cli_hints(message: str, order: Optional[str] = None) -> str:
    """A library error message with its Python hints rewritten as this command's options.

    ``order`` is the ``--order`` of a positional (.npy) input, whose columns have no names to swap.
    """
    if order is not None:
        other = "lonlat" if order == "latlon" else "latlon"
        message = re.sub(r"the columns look swapped: pass lon_col='[^']*', lat_col='[^']*'",
                         f"the columns look swapped: pass --order {other}", message)
    message = re.sub(r"lon_col='([^']*)', lat_col='([^']*)'", r"--lon-col \1 --lat-col \2", message)
    message = re.sub(r"\b(lon|lat)_col='<column name>'", r"--\1-col NAME", message)
    message = re.sub(r"\b(lon|lat)_col=", r"--\1-col ", message)
    message = message.replace(" (or pass a plain (N, 2) array with order='lonlat' or 'latlon')", "")
    return message.replace("pass wrap=True", "pass --wrap")


# --------------------------------------------------------------------------- readers
def _parquet_columns(names: list, args: argparse.Namespace) -> tuple[str, str]:
    return find_lonlat_columns(names, args.lon_col, args.lat_col)


def read_chunks(path: Path, args: argparse.Namespace) -> tuple[Optional[int], Iterator[Chunk]]:
    """(total rows or None, iterator of chunks of at most ``--chunk-rows`` rows)."""
    suffix = path.suffix.lower()
    rows = args.chunk_rows
    if suffix == ".npy":
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if array.ndim != 2 or array.shape[1] != 2:
            raise CLIError(f"{path}: expected an (N, 2) array, got shape {array.shape}")
        i, j = (1, 0) if args.order == "latlon" else (0, 1)

        def gen_npy() -> Iterator[Chunk]:
            for start in range(0, array.shape[0], rows):
                block = np.asarray(array[start:start + rows])
                yield start, "lon", block[:, i], "lat", block[:, j]

        return int(array.shape[0]), gen_npy()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise CLIError("reading Parquet needs pyarrow: pip install 'geoloc-embed[dataframe]'") from exc
        handle = pq.ParquetFile(path)
        lon, lat = _parquet_columns(handle.schema_arrow.names, args)

        def gen_parquet() -> Iterator[Chunk]:
            start = 0
            for batch in handle.iter_batches(batch_size=rows, columns=[lon, lat]):
                yield (start, lon, batch.column(0).to_numpy(zero_copy_only=False),
                       lat, batch.column(1).to_numpy(zero_copy_only=False))
                start += batch.num_rows

        return int(handle.metadata.num_rows), gen_parquet()
    if suffix in (".csv", ".txt", ".tsv"):
        try:
            import pandas as pd
        except ImportError as exc:
            raise CLIError("reading CSV needs pandas: pip install 'geoloc-embed[dataframe]'") from exc
        sep = "\t" if suffix == ".tsv" else ","
        header = pd.read_csv(path, sep=sep, nrows=0).columns.tolist()
        lon, lat = _parquet_columns(header, args)

        def gen_csv() -> Iterator[Chunk]:
            start = 0
            for frame in pd.read_csv(path, sep=sep, usecols=[lon, lat], chunksize=rows):
                yield start, lon, frame[lon].to_numpy(), lat, frame[lat].to_numpy()
                start += len(frame)

        return None, gen_csv()
    raise CLIError(f"{path}: unsupported input type {suffix!r}; use .csv, .parquet or .npy "
                   "(or a directory or glob of Parquet files)")


# --------------------------------------------------------------------------- writers
class NpyWriter:
    """Streams (n, D) rows into a ``.npy`` whose row count is known only at the end (atomic)."""

    def __init__(self, path: Path, dim: int, dtype: np.dtype) -> None:
        self.path, self.dim, self.dtype, self.rows = path, dim, np.dtype(dtype), 0
        self.tmp = temp_beside(path)
        self.raw = open(self.tmp, "wb")

    def write(self, embedding: np.ndarray, lon: np.ndarray, lat: np.ndarray, valid: Optional[np.ndarray]) -> None:
        self.raw.write(np.ascontiguousarray(embedding, dtype=self.dtype).tobytes())
        self.rows += embedding.shape[0]

    def close(self) -> None:
        self.raw.close()
        final = temp_beside(self.path)
        try:
            with open(final, "wb") as out, open(self.tmp, "rb") as raw:
                np.lib.format.write_array_header_1_0(
                    out, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                          "shape": (self.rows, self.dim)})
                shutil.copyfileobj(raw, out, 1 << 20)
            os.replace(final, self.path)
        finally:
            final.unlink(missing_ok=True)
            self.tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        self.raw.close()
        self.tmp.unlink(missing_ok=True)


class AtomicParquetWriter:
    """A ``pyarrow.parquet.ParquetWriter`` on a temporary file that becomes ``path`` on ``close``."""

    def __init__(self, path: Path, schema: Any) -> None:
        import pyarrow.parquet as pq

        self.path, self.rows = path, 0
        self.tmp = temp_beside(path)
        self.writer = pq.ParquetWriter(self.tmp, schema)

    def write_batch(self, batch: Any) -> None:
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self, metadata: Optional[dict[str, str]] = None) -> None:
        if metadata:
            self.writer.add_key_value_metadata(metadata)
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


class _ParquetPointsWriter:
    """Single-file Parquet output: ``lon``, ``lat`` (float64), ``embedding`` (and ``embedding_valid``)."""

    def __init__(self, path: Path, dim: int, dtype: np.dtype, with_valid: bool) -> None:
        try:
            import pyarrow as pa
        except ImportError as exc:
            raise CLIError("writing Parquet needs pyarrow: pip install 'geoloc-embed[dataframe]'") from exc
        fields = [("lon", pa.float64()), ("lat", pa.float64()),
                  ("embedding", pa.list_(pa.from_numpy_dtype(np.dtype(dtype)), dim))]
        self.pa, self.dim, self.with_valid = pa, dim, with_valid
        self.schema = pa.schema(fields + ([("embedding_valid", pa.bool_())] if with_valid else []))
        self.out = AtomicParquetWriter(path, self.schema)

    def write(self, embedding: np.ndarray, lon: np.ndarray, lat: np.ndarray, valid: Optional[np.ndarray]) -> None:
        pa = self.pa
        values = pa.array(np.ascontiguousarray(embedding).reshape(-1))
        arrays = [pa.array(lon), pa.array(lat), pa.FixedSizeListArray.from_arrays(values, self.dim)]
        if self.with_valid:
            arrays.append(pa.array(valid))
        self.out.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.out.close()

    def abort(self) -> None:
        self.out.abort()


# --------------------------------------------------------------------------- the command
def run_file(args: argparse.Namespace, model: Any, source: Path, target: Path) -> int:
    """Embed one input file into ``target`` (.npy or .parquet)."""
    from tqdm.auto import tqdm

    out_suffix = target.suffix.lower()
    if out_suffix not in (".npy", ".parquet", ".pq"):
        raise CLIError(f"--output must end in .npy or .parquet (or be a directory for a dataset input), "
                       f"got {target.name!r}")
    out_dtype = np.dtype(args.out_dtype)
    try:
        total, chunks = read_chunks(source, args)
    except CoordinateError as exc:  # no such column
        raise CLIError(f"{source}: {cli_hints(str(exc))}") from exc
    remove_stale_temps(target.parent, target.name)
    writer: Any = (NpyWriter(target, model.embed_dim, out_dtype) if out_suffix == ".npy" else
                   _ParquetPointsWriter(target, model.embed_dim, out_dtype, args.on_invalid == "nan"))
    done = kept = bad = 0
    try:
        with tqdm(total=total, unit="pt", desc="embed", disable=args.no_progress) as bar:
            for first_row, lon_name, lon, lat_name, lat in chunks:
                try:
                    embedding, valid = encode_columns(
                        model, lon, lat, lon_name=lon_name, lat_name=lat_name, on_invalid=args.on_invalid,
                        first_row=first_row, wrap=args.wrap, batch_size=args.batch_size, device=args.device,
                        out_dtype=out_dtype)
                except CoordinateError as exc:
                    order = args.order if source.suffix.lower() == ".npy" else None
                    raise CLIError(f"{source}: {cli_hints(str(exc), order)}") from exc
                lon64, lat64 = (np.asarray(v, dtype=np.float64) for v in (lon, lat))
                if args.on_invalid == "skip":
                    lon64, lat64 = lon64[valid], lat64[valid]
                writer.write(embedding, lon64, lat64, valid)
                done += len(valid)
                kept += embedding.shape[0]
                bad += len(valid) - int(np.count_nonzero(valid))
                bar.update(len(valid))
    except BaseException:
        writer.abort()
        raise
    writer.close()
    note = ""
    if bad:
        note = f" ({bad} invalid rows {'skipped' if args.on_invalid == 'skip' else 'written as NaN'})"
    print(f"wrote {kept} x {model.embed_dim} embeddings to {target}{note}", file=sys.stderr)
    return 0
