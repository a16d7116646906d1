"""benchmarks/train_throughput.py runs every code path in --dry-run mode (as gpu_check.sh does without a GPU)."""

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"


def _load():
    spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_writes_the_table(tmp_path, capsys):
    bench = _load()
    out = tmp_path / "train.md"
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--dry-run", "--threads", "1", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    table = out.read_text(encoding="utf-8")
    assert table.startswith("DRY RUN")
    for step in ("pre-train MC-BLD", "fine-tune"):
        for loop in ("ours fp32", "ours bf16", "authors"):
            assert f"| {step} | {loop} |" in table, (step, loop)
    assert "relative difference" in capsys.readouterr().out


def test_a_loss_disagreement_stops_before_timing(monkeypatch, capsys):
    bench = _load()
    real = bench.authors_mc_loss
    monkeypatch.setattr(bench, "authors_mc_loss", lambda *a, **k: real(*a, **k) * 1.001)
    assert bench.main(["--dry-run", "--precisions", "fp32"]) == 1
    captured = capsys.readouterr()
    assert "disagree" in captured.err and "| fine-tune |" not in captured.out
