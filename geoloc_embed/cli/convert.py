"""``geoloc-embed convert`` and ``export``: checkpoints to model directories, models to ONNX or TorchScript."""

import argparse
import sys
from pathlib import Path
from typing import Any

from ..convert import convert
from ..encoders.model import LocationEncoder
from ..export import to_onnx, to_torchscript
from ..io import replace_directory
from ._common import CLIError, positive_int

__all__ = ["add_parsers"]


def _cmd_convert(args: argparse.Namespace) -> int:
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



def _cmd_export(args: argparse.Namespace) -> int:
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


def add_parsers(sub: Any) -> None:
    """Add ``convert`` and ``export`` to the ``geoloc-embed`` subparsers."""
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
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--local-files-only", action="store_true", help="never download")
    p.set_defaults(func=_cmd_export)
