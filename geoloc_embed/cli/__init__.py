"""``geoloc-embed`` command line: list/inspect registered models, embed point files and datasets, convert.

    geoloc-embed list [PATTERN]
    geoloc-embed info NAME
    geoloc-embed embed --model NAME|PATH --input points.csv|.parquet|.npy --output out.npy|.parquet
    geoloc-embed embed --input 'data/*.parquet' --output embedded/       (a partitioned dataset, resumable)
    geoloc-embed convert SRC OUT_DIR
    geoloc-embed export --model NAME --output model.onnx|model.pt

One module per command group: :mod:`.catalog` (list, info), :mod:`.embed` (embed; single files in
:mod:`.embed_files`, datasets in :mod:`.embed_dataset`), :mod:`.convert` (convert, export).
Other packages add subcommand groups through a ``register(subparsers)`` function
(``geoloc_embed.trainer.cli``, ``geoloc_embed.bench.cli``); they are imported lazily and skipped when
absent. Errors print one line on stderr and exit non-zero (1 for failures, 2 for usage errors, 130
for Ctrl-C, 143 for SIGTERM; neither signal leaves a partial or temporary file behind).
"""

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

from .._version import __version__
from ..errors import GeolocEmbedError
from . import catalog, convert, embed
from ._common import PROG, CLIError, Terminated, one_line

__all__ = ["main", "build_parser", "EXTENSIONS", "CLIError"]

logger = logging.getLogger(__name__)

#: Modules whose ``register(subparsers)`` adds more subcommands, when importable.
EXTENSIONS = ("geoloc_embed.trainer.cli", "geoloc_embed.bench.cli")


def build_parser() -> argparse.ArgumentParser:
    """The ``geoloc-embed`` parser with every command group and the importable extensions."""
    parser = argparse.ArgumentParser(prog=PROG, description="Pretrained geographic location encoders.")

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    catalog.add_parsers(sub)
    embed.add_parser(sub)
    convert.add_parsers(sub)
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 usage error, 130 Ctrl-C, 143 SIGTERM)."""
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
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{PROG}: terminated (SIGTERM)", file=sys.stderr)
        return 143
