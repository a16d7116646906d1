"""``geoloc-embed`` command line: list/inspect registered models, embed point files, convert checkpoints.

    geoloc-embed list [PATTERN]
    geoloc-embed info NAME
    geoloc-embed embed --model NAME|PATH --input points.csv|.parquet|.npy --output out.npy|.parquet
    geoloc-embed convert SRC OUT_DIR

Other packages add subcommand groups through a ``register(subparsers)`` function (``geoloc_embed.trainer.cli``,
``geoloc_embed.bench.cli``); they are imported lazily and skipped when absent. Errors print one line on
stderr and exit non-zero (1 for failures, 2 for usage errors).
"""

import argparse
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

__all__ = ["main", "build_parser", "EXTENSIONS"]

logger = logging.getLogger(__name__)

#: Modules whose ``register(subparsers)`` adds more subcommands, when importable.
EXTENSIONS = ("geoloc_embed.trainer.cli", "geoloc_embed.bench.cli")

_PROG = "geoloc-embed"


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# --------------------------------------------------------------------------- list / info
def _cmd_list(args: argparse.Namespace) -> int:
    from .zoo import get_pretrained_spec, list_aliases, list_pretrained

    names = list_pretrained(args.pattern)
    if args.json:
        print(json.dumps([_spec_summary(get_pretrained_spec(n)) for n in names], indent=2))
        return 0
    if not names:
        print(f"no registered model matches {args.pattern!r}", file=sys.stderr)
        return 1
    rows = [("name", "source", "license", "dim", "redistributable")]
    for name in names:
        spec = get_pretrained_spec(name)
        rows.append((name, spec.source, spec.license, str(spec.embed_dim or "?"),
                     "yes" if spec.redistributable else "no (downloaded by you)"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    aliases = {a: t for a, t in list_aliases().items() if t in names}
    if aliases:
        print("aliases: " + ", ".join(f"{a} -> {t}" for a, t in sorted(aliases.items())))
    return 0


def _spec_summary(spec: Any) -> dict:
    return {"name": spec.name, "source": spec.source, "license": spec.license, "embed_dim": spec.embed_dim,
            "redistributable": spec.redistributable, "description": spec.description}


def _cmd_info(args: argparse.Namespace) -> int:
    from .zoo import get_pretrained_spec

    spec = get_pretrained_spec(args.name)
    data = spec.to_dict()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    order = ("name", "description", "source", "url", "member", "hf_repo", "filename", "pip_package", "revision",
             "sha256", "member_sha256", "size_bytes", "converter", "license", "redistributable",
             "coordinate_convention", "training_data", "expected", "keep_class_head", "class_order", "metrics",
             "homepage", "notes", "citation")
    for key in order:
        value = data.get(key)
        if value in (None, "", {}, ()):
            continue
        if isinstance(value, dict):
            value = json.dumps(value)
        text = str(value)
        if "\n" in text:
            print(f"{key}:")
            for line in text.splitlines():
                print(f"    {line}")
        else:
            print(f"{key}: {text}")
    if spec.config is not None:
        print("config: " + json.dumps(spec.config.to_dict(), sort_keys=True))
    if spec.sha256 is None and spec.source in ("url-zip", "url-file"):
        from .zoo.provenance import record_path, sha256_env_var

        record = record_path(spec.name)
        try:
            seen = json.loads(record.read_text(encoding="utf-8"))
            print(f"recorded on first use: {seen.get('file')} sha256 {seen.get('sha256')}, member sha256 "
                  f"{seen.get('member_sha256')} ({record}, {seen.get('recorded')})")
        except (OSError, ValueError):
            print(f"checksum: none published; recorded on first use in {record}")
        print(f"pin: expected_sha256=... or {sha256_env_var(spec.name)}")
    return 0


# --------------------------------------------------------------------------- embed
def _load_model(name: Optional[str], local_files_only: bool, device: Optional[str]) -> Any:
    from .encoders.model import LocationEncoder
    from .zoo import DEFAULT_MODEL

    if not name:
        if DEFAULT_MODEL is None:
            raise CLIError("no default model bundled yet; pass --model NAME|PATH (see geoloc-embed list)")
        name = DEFAULT_MODEL
    return LocationEncoder.from_pretrained(name, local_files_only=bool(local_files_only),
                                           map_location=device or "cpu")


def _column(columns: Sequence[str], wanted: Optional[str], candidates: tuple[str, ...], what: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise CLIError(f"--{what}-col {wanted!r} is not a column of the input (columns: {list(columns)[:12]})")
        return wanted
    lowered = {c.lower(): c for c in columns}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise CLIError(f"cannot find a {what}itude column among {list(columns)[:12]}; pass --{what}-col")


_LON_NAMES = ("lon", "lng", "long", "longitude", "x")
_LAT_NAMES = ("lat", "latitude", "y")


def _read_chunks(path: Path, args: argparse.Namespace) -> tuple[Optional[int], Iterator[np.ndarray]]:
    """(total rows or None, iterator of (n, 2) float64 arrays in [lon, lat] order)."""
    suffix = path.suffix.lower()
    rows = args.chunk_rows
    if suffix == ".npy":
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if array.ndim != 2 or array.shape[1] != 2:
            raise CLIError(f"{path}: expected an (N, 2) array, got shape {array.shape}")
        flip = args.order == "latlon"

        def gen_npy() -> Iterator[np.ndarray]:
            for start in range(0, array.shape[0], rows):
                block = np.asarray(array[start:start + rows], dtype=np.float64)
                yield np.ascontiguousarray(block[:, ::-1]) if flip else block

        return int(array.shape[0]), gen_npy()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise CLIError("reading Parquet needs pyarrow: pip install 'geoloc-embed[dataframe]'") from exc
        handle = pq.ParquetFile(path)
        names = handle.schema_arrow.names
        lon = _column(names, args.lon_col, _LON_NAMES, "lon")
        lat = _column(names, args.lat_col, _LAT_NAMES, "lat")

        def gen_parquet() -> Iterator[np.ndarray]:
            for batch in handle.iter_batches(batch_size=rows, columns=[lon, lat]):
                yield np.stack([batch.column(0).to_numpy(zero_copy_only=False).astype(np.float64),
                                batch.column(1).to_numpy(zero_copy_only=False).astype(np.float64)], axis=1)

        return int(handle.metadata.num_rows), gen_parquet()
    if suffix in (".csv", ".txt", ".tsv"):
        try:
            import pandas as pd
        except ImportError as exc:
            raise CLIError("reading CSV needs pandas: pip install 'geoloc-embed[dataframe]'") from exc
        sep = "\t" if suffix == ".tsv" else ","
        header = pd.read_csv(path, sep=sep, nrows=0).columns.tolist()
        lon = _column(header, args.lon_col, _LON_NAMES, "lon")
        lat = _column(header, args.lat_col, _LAT_NAMES, "lat")

        def gen_csv() -> Iterator[np.ndarray]:
            for frame in pd.read_csv(path, sep=sep, usecols=[lon, lat], chunksize=rows):
                yield frame[[lon, lat]].to_numpy(dtype=np.float64)

        return None, gen_csv()
    raise CLIError(f"{path}: unsupported input type {suffix!r}; use .csv, .parquet or .npy")


class _NpyWriter:
    """Streams (n, D) float32 rows into a ``.npy`` whose row count is known only at the end (atomic)."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self.rows = path, dim, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.raw = tempfile.NamedTemporaryFile(prefix=f".{path.name}.", suffix=".raw", dir=path.parent, delete=False)

    def write(self, block: np.ndarray, lonlat: np.ndarray) -> None:
        self.raw.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        self.rows += block.shape[0]

    def close(self) -> None:
        from .io import atomic_path

        self.raw.close()
        try:
            with atomic_path(self.path) as tmp, open(tmp, "wb") as out, open(self.raw.name, "rb") as raw:
                np.lib.format.write_array_header_1_0(
                    out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                          "shape": (self.rows, self.dim)})
                shutil.copyfileobj(raw, out, 1 << 20)
        finally:
            os.unlink(self.raw.name)

    def abort(self) -> None:
        self.raw.close()
        os.unlink(self.raw.name)


class _ParquetWriter:
    """Streams rows into a Parquet file with ``lon``, ``lat`` and a fixed-size-list ``embedding`` column."""

    def __init__(self, path: Path, dim: int) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise CLIError("writing Parquet needs pyarrow: pip install 'geoloc-embed[dataframe]'") from exc
        self.pa, self.path, self.dim = pa, path, dim
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(name)
        self.schema = pa.schema([("lon", pa.float64()), ("lat", pa.float64()),
                                 ("embedding", pa.list_(pa.float32(), dim))])
        self.writer = pq.ParquetWriter(self.tmp, self.schema)

    def write(self, block: np.ndarray, lonlat: np.ndarray) -> None:
        pa = self.pa
        values = pa.array(np.ascontiguousarray(block, dtype=np.float32).reshape(-1))
        table = pa.Table.from_arrays([pa.array(lonlat[:, 0]), pa.array(lonlat[:, 1]),
                                      pa.FixedSizeListArray.from_arrays(values, self.dim)], schema=self.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


def _cmd_embed(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    source, target = Path(args.input), Path(args.output)
    if not source.is_file():
        raise CLIError(f"input file {source} does not exist")
    out_suffix = target.suffix.lower()
    if out_suffix not in (".npy", ".parquet", ".pq"):
        raise CLIError(f"--output must end in .npy or .parquet, got {target.name!r}")
    model = _load_model(args.model, args.local_files_only, args.device)
    total, chunks = _read_chunks(source, args)
    writer: Any = (_NpyWriter if out_suffix == ".npy" else _ParquetWriter)(target, model.embed_dim)
    done = 0
    try:
        with tqdm(total=total, unit="pt", desc="embed", disable=args.no_progress) as bar:
            for block in chunks:
                embedding = model.encode(block, order="lonlat", batch_size=args.batch_size, device=args.device,
                                         wrap=args.wrap)
                writer.write(embedding, block)
                done += block.shape[0]
                bar.update(block.shape[0])
    except BaseException:
        writer.abort()
        raise
    writer.close()
    print(f"wrote {done} x {model.embed_dim} embeddings to {target}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- convert
def _cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert
    from .encoders.model import LocationEncoder
    from .io import replace_directory

    out = Path(args.out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        raise CLIError(f"{out} exists and is not empty; pass --overwrite or choose another directory")
    if args.converter:
        config, state = convert(args.src, args.converter)
        model = LocationEncoder.from_state_dict(config, state, source=str(args.src))
    else:
        model = LocationEncoder.from_pretrained(args.src, local_files_only=bool(args.local_files_only))
    # built beside OUT_DIR and swapped in whole (a failure leaves the old directory); a fresh model card,
    # other files already there are kept
    replace_directory(out, model._save_pretrained, keep_existing=True)
    config = model.config
    print(f"wrote {out}: {config.position_encoder.family} + {config.network.name}, embed_dim {model.embed_dim}, "
          f"classes {config.num_classes}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- export
def _cmd_export(args: argparse.Namespace) -> int:
    from .encoders.model import LocationEncoder
    from .export import to_onnx, to_torchscript

    out = Path(args.output)
    fmt = args.format or ("onnx" if out.suffix.lower() == ".onnx" else "torchscript" if out.suffix.lower()
                          in (".pt", ".ts", ".torchscript") else None)
    if fmt is None:
        raise CLIError(f"cannot tell the export format from {out.name!r}; use a .onnx or .pt file name "
                       "or pass --format onnx|torchscript")
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} exists; pass --overwrite or choose another file name")
    model = LocationEncoder.from_pretrained(args.model, local_files_only=bool(args.local_files_only))
    if fmt == "onnx":
        to_onnx(model, out, opset=args.opset)
    else:
        to_torchscript(model, out)
    print(f"wrote {out} ({fmt}): input lonlat (N, 2) float32 [lon, lat] degrees -> embedding (N, "
          f"{model.embed_dim})" + (f" and logits (N, {model.num_classes})" if model.num_classes else ""),
          file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_PROG, description="Pretrained geographic location encoders.")
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list registered pretrained models")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'csp-*' (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="provenance of one registered model (source, license, citation, ...)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("embed", help="embed the points of a CSV/Parquet/.npy file",
                       description="Embed points; reads and writes in chunks, so files larger than memory work.")
    p.add_argument("--model", "-m", default=None, help="registered name, model directory, checkpoint file or "
                                                         "hf-hub:org/repo (default: the bundled default model)")
    p.add_argument("--input", "-i", required=True, help="points.csv | points.parquet | points.npy")
    p.add_argument("--output", "-o", required=True, help="out.npy (N, D float32) | out.parquet (lon, lat, embedding)")
    p.add_argument("--lon-col", default=None, help="longitude column (default: lon/lng/longitude/x)")
    p.add_argument("--lat-col", default=None, help="latitude column (default: lat/latitude/y)")
    p.add_argument("--order", choices=("lonlat", "latlon"), default="lonlat",
                   help="column order of a .npy input (default lonlat)")
    p.add_argument("--batch-size", type=_positive_int, default=65536, help="points per forward batch")
    p.add_argument("--chunk-rows", type=_positive_int, default=262144, help="rows read from the input at a time")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    p.add_argument("--wrap", action="store_true", help="wrap longitudes outside [-180, 180] instead of failing")
    p.add_argument("--local-files-only", action="store_true", help="never download")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_embed)

    p = sub.add_parser("convert", help="convert a CSP/TorchSpatial/SatCLIP/GeoCLIP checkpoint (or a registered "
                                       "name) to a model directory")
    p.add_argument("src", help="checkpoint file, model_dir.zip[#name-or-member], registered name, or directory")
    p.add_argument("out_dir", help="output directory (config.json + model.safetensors + README.md)")
    p.add_argument("--converter", choices=("csp", "geoclip", "satclip"), default=None,
                   help="force a converter for a checkpoint file (default: by file type)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the model files of a non-empty directory (swapped in whole; other files are kept)")
    p.add_argument("--local-files-only", action="store_true", help="never download")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("export", help="export a model to ONNX (checked with onnxruntime) or TorchScript")
    p.add_argument("--model", "-m", required=True, help="registered name, model directory or checkpoint file")
    p.add_argument("--output", "-o", required=True, help="model.onnx | model.pt")
    p.add_argument("--format", choices=("onnx", "torchscript"), default=None,
                   help="default: from the output file name")
    p.add_argument("--opset", type=_positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--local-files-only", action="store_true", help="never download")
    p.set_defaults(func=_cmd_export)

    for module_name in EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            logger.debug("CLI extension %s not available: %s", module_name, exc)
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _one_line(exc: BaseException) -> str:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip()) or type(exc).__name__


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    from .errors import GeolocEmbedError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help / --version (0) or usage errors (2)
        return int(exc.code or 0)
    args._argv = argv
    try:
        return int(args.func(args) or 0)
    except (CLIError, GeolocEmbedError, FileNotFoundError, PermissionError, ValueError, KeyError, OSError) as exc:
        print(f"{_PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
