"""``geoloc-embed embed``: the points of a file (:mod:`.embed_files`) or a Parquet dataset (:mod:`.embed_dataset`).

Invalid rows (NaN/missing, |lat| > 90, |lon| > 180 without ``--wrap``) follow ``--on-invalid``:
``error`` (default; the message names the absolute data row), ``skip`` (dropped), or ``nan`` (a NaN
embedding and ``embedding_valid = false``). Boolean or text coordinate columns are always refused.
"""

import argparse
from pathlib import Path
from typing import Any

from ..zoo import DEFAULT_MODEL
from ._common import CLIError, load_model, positive_int, sigterm_raises
from .embed_dataset import is_dataset_input, run_dataset
from .embed_files import run_file

__all__ = ["add_parser"]


def _model_label(name: Any) -> str:
    """How the parts of a dataset record their model: the registered name, or the resolved model path."""
    name = name or DEFAULT_MODEL
    path = Path(str(name))
    return str(path.resolve()) if path.exists() else str(name)


def _cmd_embed(args: argparse.Namespace) -> int:
    dataset = is_dataset_input(args.input)
    source = Path(args.input)
    if not dataset and not source.is_file():
        raise CLIError(f"input {source} does not exist (pass a file, a directory or a glob of Parquet files)")
    if not dataset and (args.rows_per_part or args.overwrite):
        raise CLIError("--rows-per-part and --overwrite apply to a dataset input (a directory or a glob)")
    with sigterm_raises():
        model = load_model(args.model, args.local_files_only, args.device)
        if dataset:
            return run_dataset(args, model, _model_label(args.model))
        return run_file(args, model, source, Path(args.output))


def add_parser(sub: Any) -> None:
    """Add ``embed`` to the ``geoloc-embed`` subparsers."""
    p = sub.add_parser(
        "embed", help="embed the points of a CSV/Parquet/.npy file or of a Parquet dataset",
        description="Embed points. Reads and writes in chunks, so inputs larger than memory work. A directory or "
                    "glob of Parquet files gives a partitioned Parquet dataset (every input column plus "
                    "'embedding'), written part by part and resumable: rerun the same command after an "
                    "interruption and finished parts are skipped.")
    p.add_argument("--model", "-m", default=None, help="registered name, model directory, checkpoint file or "
                                                         "hf-hub:org/repo (default: the bundled default model)")
    p.add_argument("--input", "-i", required=True,
                   help="points.csv | points.parquet | points.npy | a directory or 'glob/*.parquet' of Parquet files")
    p.add_argument("--output", "-o", required=True,
                   help="out.npy (N, D) | out.parquet (lon, lat, embedding) | a directory for a dataset input")
    p.add_argument("--lon-col", default=None, help="longitude column (default: lon/lng/long/longitude/x)")
    p.add_argument("--lat-col", default=None, help="latitude column (default: lat/latitude/y)")
    p.add_argument("--order", choices=("lonlat", "latlon"), default="lonlat",
                   help="column order of a .npy input (default lonlat)")
    p.add_argument("--on-invalid", choices=("error", "skip", "nan"), default="error",
                   help="rows with NaN/missing or out-of-range coordinates: fail naming the row (default), skip "
                        "them, or write NaN embeddings plus an 'embedding_valid' column (Parquet)")
    p.add_argument("--out-dtype", choices=("float32", "float16"), default="float32",
                   help="embedding storage type (float16 halves the output; 11 significant bits)")
    p.add_argument("--rows-per-part", type=positive_int, default=None,
                   help="dataset input: one output part per this many rows (default: one part per input file)")
    p.add_argument("--overwrite", action="store_true",
                   help="dataset input: redo every part, also those a previous run finished")
    p.add_argument("--batch-size", type=positive_int, default=65536, help="points per forward batch")
    p.add_argument("--chunk-rows", type=positive_int, default=262144, help="rows read from the input at a time")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    p.add_argument("--wrap", action="store_true", help="wrap longitudes outside [-180, 180] instead of failing")
    p.add_argument("--local-files-only", action="store_true", help="never download")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_embed)
