"""Every example runs and prints what its docstring promises."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_embed_points(tmp_path):
    out = run("embed_points.py", "--output", str(tmp_path / "emb.npy"))
    assert re.search(r"embedded 12 points -> array \(12, \d+\) float32", out)
    # nearest city on the globe is geography, independent of the model: Paris' is London
    assert re.search(r"^Paris\s+\S.*London\s*$", out, flags=re.M)
    emb = np.load(tmp_path / "emb.npy")
    assert emb.shape[0] == 12 and np.isfinite(emb).all()


def test_compare_encoders():
    out = run("compare_encoders.py", "--points", "200")
    rows = re.findall(r"^(\S+)\s+features\s+(\d+) -> embedding (\d+), .* = (-?[0-9.]+)$", out, flags=re.M)
    assert [r[0] for r in rows] == ["grid", "sphere-c"]
    assert rows[0][1] == "128"  # 4 * 32 grid features
    assert all(-1.0 <= float(r[3]) <= 1.0 for r in rows)


def test_save_and_reload():
    out = run("save_and_reload.py")
    assert "files: README.md, config.json, model.safetensors" in out
    assert "max |embedding difference| = 0.0" in out
    assert "max |logit difference| = 0.0" in out


def test_geo_prior_fusion():
    out = run("geo_prior_fusion.py")
    top1 = {m[0]: float(m[1]) for m in re.findall(r"^top-1 (image only|location only|fused):\s+([0-9.]+) %", out,
                                                   flags=re.M)}
    assert set(top1) == {"image only", "location only", "fused"}, out
    # neither source alone resolves the species; the fused score (P_img * prior) does
    assert top1["fused"] >= 90.0 and top1["fused"] > max(top1["image only"], top1["location only"]) + 10, out
    assert 55.0 <= top1["image only"] <= 75.0, out  # blind within each look-alike pair: about half of them wrong
    n, missing = map(int, re.search(r"test: (\d+) images, (\d+) without a location", out).groups())
    assert n == 1200 and 0 < missing < n, out
    pairs = re.findall(r"^  .+: +([0-9.]+) % -> +([0-9.]+) %$", out, flags=re.M)
    assert len(pairs) == 2 and all(float(after) > float(before) + 30 for before, after in pairs), out
