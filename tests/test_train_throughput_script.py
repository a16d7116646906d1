"""``python -m benchmarks.train_throughput`` runs every code path in --dry-run mode (as gpu_check.sh does
without a GPU)."""

import torch

from benchmarks import train_throughput as bench


def test_dry_run_writes_the_table(tmp_path, capsys):
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
    real = bench.authors_mc_loss
    monkeypatch.setattr(bench, "authors_mc_loss", lambda *a, **k: real(*a, **k) * 1.001)
    assert bench.main(["--dry-run", "--precisions", "fp32"]) == 1
    captured = capsys.readouterr()
    assert "disagree" in captured.err and "| fine-tune |" not in captured.out
