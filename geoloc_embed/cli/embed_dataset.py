"""``geoloc-embed embed`` on a Parquet dataset: a directory or glob in, a partitioned dataset out, resumable.

Each input file gives one output part (same relative path, so hive-style ``key=value/`` directories
survive), or one part per ``--rows-per-part`` rows (``<stem>-00000.parquet``, ...). A part holds
every input column plus ``embedding`` (and ``embedding_valid`` with ``--on-invalid nan``).

* **Atomic**: a part is written under a hidden temporary name and renamed when complete, so a
  killed run loses at most the parts in flight; SIGTERM and Ctrl-C delete them, and the temporary
  files of a SIGKILLed run are deleted by the next run.
* **Resumable**: each part's Parquet metadata (key ``geoloc_embed``) records its source file, row
  range, model and options; a rerun skips every part whose footer is readable, whose row count
  matches and whose record matches, and redoes the others (corrupt, truncated or short parts). A
  part written with another model or options stops the run (``--overwrite`` redoes everything).
* **Bounded memory**: input is streamed ``--chunk-rows`` rows at a time (row group by row group).
* **One progress bar** over the whole dataset's rows (finished parts count as done).
"""

import argparse
import glob
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import CoordinateError
from ..integrations.batch import embed_batch
from ._common import CLIError
from .embed_files import AtomicParquetWriter, cli_hints, remove_stale_temps

__all__ = ["METADATA_KEY", "ROWS_KEY", "Part", "find_inputs", "plan_parts", "part_is_done", "run_dataset"]

METADATA_KEY = "geoloc_embed"
ROWS_KEY = "geoloc_embed.rows_written"
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Part:
    """One output file: rows [first_row, first_row + rows) of ``source`` (relative to the input root)."""

    source: Path
    relative: str
    first_row: int
    rows: int
    target: Path


def is_dataset_input(text: str) -> bool:
    """A directory, or a glob pattern (``*``, ``?``, ``[``) rather than one file."""
    return Path(text).is_dir() or any(ch in text for ch in "*?[")


def find_inputs(text: str) -> tuple[Path, list[Path]]:
    """(root, sorted Parquet files) of a directory (searched recursively) or a glob pattern."""
    path = Path(text)
    if path.is_dir():
        root = path
        files = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES
                 and not p.name.startswith((".", "_"))]
    else:
        pieces = path.parts
        magic = next((i for i, piece in enumerate(pieces) if any(ch in piece for ch in "*?[")), len(pieces))
        root = Path(*pieces[:magic]) if magic else Path(".")
        files = [Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()]
    files = sorted(files)
    if not files:
        raise CLIError(f"no Parquet files found in {text!r} (looked for *.parquet and *.pq"
                       f"{', recursively' if path.is_dir() else ''})")
    others = [f for f in files if f.suffix.lower() not in _PARQUET_SUFFIXES]
    if others:
        raise CLIError(f"a dataset input must be Parquet files; {others[0]} is not (use one file at a time for "
                       "CSV or .npy)")
    return root, files


def plan_parts(root: Path, files: list[Path], output: Path, rows_per_part: Optional[int]) -> list[Part]:
    """Every output part of the dataset, in input order (reads only the files' footers)."""
    import pyarrow.parquet as pq

    parts: list[Part] = []
    seen: dict[Path, Path] = {}
    for source in files:
        try:
            rows = pq.ParquetFile(source).metadata.num_rows
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a broken file
            raise CLIError(f"cannot read the Parquet footer of {source}: {exc}") from exc
        try:
            relative = source.resolve().relative_to(root.resolve())
        except ValueError:
            relative = Path(source.name)
        stem = relative.with_suffix("")
        if rows_per_part is None:
            spans = [(str(stem) + ".parquet", 0, rows)]
        else:
            spans = [(f"{stem}-{k:05d}.parquet", start, min(rows_per_part, rows - start))
                     for k, start in enumerate(range(0, max(rows, 1), rows_per_part))]
        for name, start, count in spans:
            target = output / name
            if target in seen:
                raise CLIError(f"{seen[target]} and {source} would both write {target}; rename one of them")
            seen[target] = source
            parts.append(Part(source, str(relative), start, max(count, 0), target))
    return parts


def _settings(args: argparse.Namespace, model_label: str, embed_dim: int) -> dict[str, Any]:
    return {"model": model_label, "embed_dim": embed_dim, "out_dtype": np.dtype(args.out_dtype).name,
            "on_invalid": args.on_invalid, "wrap": bool(args.wrap), "lon_col": args.lon_col, "lat_col": args.lat_col}


def part_is_done(part: Part, settings: dict[str, Any]) -> bool:
    """True when ``part.target`` is a complete part of this run; raises CLIError for one made otherwise."""
    import pyarrow.parquet as pq

    if not part.target.exists():
        return False
    try:
        handle = pq.ParquetFile(part.target)
        metadata = handle.metadata.metadata or {}
        record = json.loads(metadata[METADATA_KEY.encode()])
        written = int(metadata[ROWS_KEY.encode()])
    except KeyError:
        raise CLIError(f"{part.target} exists but was not written by geoloc-embed embed; move it away or choose "
                       "another --output") from None
    except Exception:  # unreadable footer (truncated, corrupt): redo it
        return False
    made_with = {key: record.get(key) for key in settings}
    if made_with != settings:
        changed = ", ".join(f"{k}: {made_with[k]!r} -> {v!r}" for k, v in settings.items() if made_with[k] != v)
        raise CLIError(f"{part.target} was written with other settings ({changed}); pass --overwrite to redo the "
                       "dataset, or choose another --output")
    same_rows = (record.get("source") == part.relative and record.get("first_row") == part.first_row
                 and record.get("rows") == part.rows)
    return same_rows and handle.metadata.num_rows == written and (
        written == part.rows or settings["on_invalid"] == "skip" and written <= part.rows)


def _write_part(part: Part, args: argparse.Namespace, model: Any, settings: dict[str, Any], bar: Any) -> None:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(part.source)
    added = ("embedding", "embedding_valid") if args.on_invalid == "nan" else ("embedding",)
    for name in added:
        if name in handle.schema_arrow.names:
            raise CLIError(f"{part.source} already has a column {name!r}; drop or rename it first")
    record = {"source": part.relative, "first_row": part.first_row, "rows": part.rows, **settings}
    out_dtype = np.dtype(args.out_dtype)
    schema = _output_schema(handle.schema_arrow, model.embed_dim, out_dtype, args.on_invalid == "nan")
    schema = schema.with_metadata({**(schema.metadata or {}), METADATA_KEY.encode(): json.dumps(record).encode()})
    writer = AtomicParquetWriter(part.target, schema)
    try:
        start, stop = part.first_row, part.first_row + part.rows
        row = 0
        for batch in handle.iter_batches(batch_size=args.chunk_rows):
            lo, hi = max(start, row), min(stop, row + batch.num_rows)
            if lo < hi:
                piece = batch.slice(lo - row, hi - lo)
                try:
                    out = embed_batch(piece, model, lon_col=args.lon_col, lat_col=args.lat_col, out_dtype=out_dtype,
                                      on_invalid=args.on_invalid, wrap=args.wrap, batch_size=args.batch_size,
                                      device=args.device, first_row=lo)
                except CoordinateError as exc:
                    raise CLIError(f"{part.source}: {cli_hints(str(exc))}") from exc
                writer.write_batch(out.replace_schema_metadata(schema.metadata))
                bar.update(hi - lo)
            row += batch.num_rows
            if row >= stop:
                break
    except BaseException:
        writer.abort()
        raise
    writer.close({ROWS_KEY: str(writer.rows)})


def _output_schema(schema: Any, dim: int, dtype: np.dtype, with_valid: bool) -> Any:
    import pyarrow as pa

    out = schema.append(pa.field("embedding", pa.list_(pa.from_numpy_dtype(dtype), dim)))
    return out.append(pa.field("embedding_valid", pa.bool_())) if with_valid else out


def run_dataset(args: argparse.Namespace, model: Any, model_label: str) -> int:
    """Embed every part of the dataset ``args.input`` into the directory ``args.output``."""
    from tqdm.auto import tqdm

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise CLIError(f"--output {output} is a file; a dataset input needs an output directory")
    if output.suffix.lower() == ".npy":
        raise CLIError("a dataset input writes a Parquet dataset: pass an output directory, not a .npy file")
    root, files = find_inputs(args.input)
    if Path(args.input).is_dir() and (output.resolve() == root.resolve() or root.resolve() in output.resolve().parents):
        raise CLIError(f"--output {output} is inside the input directory {root}; choose a directory outside it")
    parts = plan_parts(root, files, output, args.rows_per_part)
    inputs = {f.resolve() for f in files}
    clash = next((p.target for p in parts if p.target.resolve() in inputs), None)
    if clash is not None:
        raise CLIError(f"the output part {clash} would overwrite an input file; choose another --output")
    removed = remove_stale_temps(output)
    if removed:
        print(f"removed {removed} temporary files left by an interrupted run in {output}", file=sys.stderr)
    settings = _settings(args, model_label, model.embed_dim)
    todo = parts if args.overwrite else [p for p in parts if not part_is_done(p, settings)]
    total = sum(p.rows for p in parts)
    done_rows = total - sum(p.rows for p in todo)
    with tqdm(total=total, initial=done_rows, unit="pt", desc="embed", disable=args.no_progress) as bar:
        for part in todo:
            _write_part(part, args, model, settings, bar)
    print(f"{output}: {len(parts)} parts, {len(parts) - len(todo)} already done, {len(todo)} written "
          f"({total:,} rows, {model.embed_dim}-d embeddings)", file=sys.stderr)
    return 0
