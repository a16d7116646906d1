"""``geoloc-embed list`` and ``geoloc-embed info``: the registered pretrained models and their provenance."""

import argparse
import json
import sys
from typing import Any

from ..zoo import get_pretrained_spec, list_aliases, list_pretrained
from ..zoo.provenance import record_path, sha256_env_var

__all__ = ["add_parsers"]


def _cmd_list(args: argparse.Namespace) -> int:
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
        record = record_path(spec.name)
        try:
            seen = json.loads(record.read_text(encoding="utf-8"))
            print(f"recorded on first use: {seen.get('file')} sha256 {seen.get('sha256')}, member sha256 "
                  f"{seen.get('member_sha256')} ({record}, {seen.get('recorded')})")
        except (OSError, ValueError):
            print(f"checksum: none published; recorded on first use in {record}")
        print(f"pin: expected_sha256=... or {sha256_env_var(spec.name)}")
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``list`` and ``info`` to the ``geoloc-embed`` subparsers."""
    p = sub.add_parser("list", help="list registered pretrained models")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'csp-*' (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="provenance of one registered model (source, license, citation, ...)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)
