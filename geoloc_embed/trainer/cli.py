"""Command line: ``pretrain``, ``finetune`` and ``evaluate`` subcommands.

``register(subparsers)`` adds them to an ``argparse`` sub-parser group (the main ``geoloc-embed``
CLI calls it); ``python -m geoloc_embed.trainer.cli ...`` runs them standalone, which is also the
form for DDP: ``torchrun --nproc_per_node 2 -m geoloc_embed.trainer.cli pretrain --config X``.

Every subcommand takes ``--config FILE`` (JSON; e.g. ``recipes/csp_inat2018.json``, which holds
a "pretrain", a "finetune" and an "evaluate" section, or a plain config) plus one flag per config
field (``--lr 1e-3``, ``--data-root DIR``, ``--resume``) and ``--set key.sub=value`` for any
(nested) field, e.g. ``--set model.embed_dim=512 --set temperatures=[20,1,1]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import ConfigError
from .config import (
    EvalConfig,
    FinetuneConfig,
    PretrainConfig,
    apply_overrides,
    config_from_dict,
)

__all__ = ["register", "build_parser", "main", "config_from_args"]

_COMMANDS = {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "evaluate": EvalConfig}
_DATA_FLAGS = ("root", "dataset", "format", "train_path", "val_path", "num_classes")


def _add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    parser.add_argument("--config", metavar="FILE", help="JSON config or recipe file")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                        help="override any (dotted) config field; VALUE is parsed as JSON when possible")
    group = parser.add_argument_group("config fields (override the file)")
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.name == "data" or (f.name == "model" and cls is not EvalConfig):
            continue  # nested: --data-* flags below, --set model.FIELD=VALUE
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(flag, dest=f"field:{f.name}", action=argparse.BooleanOptionalAction, default=None)
        else:
            group.add_argument(flag, dest=f"field:{f.name}", metavar=f.name.upper(), default=None,
                               help=f"(default {default!r})")
    for name in _DATA_FLAGS:
        group.add_argument("--data-" + name.replace("_", "-"), dest=f"field:data.{name}", default=None,
                           metavar=name.upper())


def _section(data: dict, command: str) -> dict:
    """The ``command`` config from a file.

    A recipe file holds top-level shared fields (e.g. "data", "model", "seed") plus
    "pretrain"/"finetune"/"evaluate" sections; a shared field applies to every section whose
    config has a field of that name and kind, and "data"/"model" dicts are merged key by key.
    A file without sections is the config itself.
    """
    if not any(isinstance(data.get(c), dict) for c in _COMMANDS):
        return data
    cls = _COMMANDS[command]
    fields = {f.name for f in dataclasses.fields(cls)}
    section = dict(data.get(command) or {})
    out: dict = {}
    for key, value in data.items():
        if key in _COMMANDS:
            continue
        if key.startswith("_"):
            out[key] = value
        elif key in fields and not (key == "model" and cls is EvalConfig):
            out[key] = value
    for key, value in section.items():
        if key in ("data", "model") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def config_from_args(command: str, args: argparse.Namespace) -> Any:
    """Build the run config of ``command`` from ``--config`` and the override flags."""
    cls = _COMMANDS[command]
    base: dict = {}
    if getattr(args, "config", None):
        try:
            base = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read --config {args.config}: {exc}") from exc
        base = _section(base, command)
    overrides: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key.startswith("field:") and value is not None:
            overrides[key[len("field:"):]] = value
    for item in getattr(args, "overrides", []) or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = v
    cfg = config_from_dict(cls, base) if base else cls()
    return apply_overrides(cfg, overrides) if overrides else cfg


def _print(obj: Any, indent: Optional[int] = None) -> None:
    if os.environ.get("RANK", "0") == "0":  # one summary line per run, also under torchrun
        print(json.dumps(obj, indent=indent))


def _run(args: argparse.Namespace) -> int:
    command = args.trainer_command
    cfg = config_from_args(command, args)
    if command == "pretrain":
        from .pretrain import pretrain

        res = pretrain(cfg)
        _print({"output_dir": str(res.output_dir), "model": str(res.output_dir / "model"),
                "global_step": res.summary["global_step"],
                "last_epoch_loss": (res.summary.get("history") or [{}])[-1].get("epoch_loss")})
    elif command == "finetune":
        from .finetune import finetune

        ft = finetune(cfg)
        _print({"output_dir": str(ft.output_dir), "model": str(ft.output_dir / "model"), "metrics": ft.metrics})
    else:
        from .evaluate import run_evaluate

        _print(run_evaluate(cfg), indent=2)
    return 0


def register(subparsers: Any) -> None:
    """Add ``pretrain``, ``finetune`` and ``evaluate`` to an argparse sub-parser group.

    Each sets ``func`` (call ``args.func(args)``, returns an exit code) and ``trainer_command``.
    """
    helps = {"pretrain": "CSP contrastive pre-training of a location encoder",
             "finetune": "fine-tune a location encoder on labels (presence-absence loss)",
             "evaluate": "top-k accuracy of a fine-tuned encoder, alone and fused with image predictions"}
    for name, cls in _COMMANDS.items():
        p = subparsers.add_parser(name, help=helps[name], description=helps[name])
        _add_config_flags(p, cls)
        p.set_defaults(func=_run, trainer_command=name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geoloc_embed.trainer.cli",
                                     description="geoloc-embed trainer")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
