"""Issue 13 item 1: offline (``local_files_only=True``) opens no socket, for satclip-*, hf-hub: and the CLI.

Each case runs in a fresh interpreter where ``HF_HUB_OFFLINE`` is *not* set when huggingface_hub is
imported (the case that used to reach huggingface.co:443), with ``socket.socket.connect`` and
``socket.create_connection`` patched to record and refuse every attempt before anything is imported.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from test_satclip_convert import make_checkpoint

import geoloc_embed as ge

REPO_ROOT = Path(__file__).resolve().parents[1]

_GUARD = """
import json, os, socket, sys
attempts = []
def _refuse(*args, **kwargs):
    attempts.append(repr(args[1:] if args and isinstance(args[0], socket.socket) else args)[:80])
    raise OSError("socket guard: no network in this test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
assert "HF_HUB_OFFLINE" not in os.environ
import huggingface_hub  # imported while HF_HUB_OFFLINE is unset: its constants say online
import geoloc_embed as ge
results = {}
def case(name, call):
    try:
        value = call()
        results[name] = "ok" if value is None else value
    except Exception as exc:
        results[name] = type(exc).__name__ + ": " + " ".join(str(exc).split())[:1000]
"""


def _run(code: str, env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    script = _GUARD + textwrap.dedent(code) + "\nprint(json.dumps({'attempts': attempts, 'results': results}))\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _hf_snapshot(root: Path, repo_id: str, files: dict, commit: str = "b" * 40) -> None:
    base = root / ("models--" + repo_id.replace("/", "--"))
    (base / "snapshots" / commit).mkdir(parents=True)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(commit)
    for name, data in files.items():
        (base / "snapshots" / commit / name).write_bytes(data)


@pytest.fixture
def caches(tmp_path):
    """A geoloc_embed cache and a Hugging Face cache holding one of our repos and one SatCLIP checkpoint."""
    torch.manual_seed(0)
    model = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6)
    model.save_pretrained(tmp_path / "m")
    hf = tmp_path / "hf" / "hub"
    _hf_snapshot(hf, "org/tiny", {n: (tmp_path / "m" / n).read_bytes() for n in ("config.json", "model.safetensors")})
    ckpt = tmp_path / "satclip-resnet18-l10.ckpt"
    make_checkpoint(ckpt, L=10, capacity=16, embed_dim=256)
    _hf_snapshot(hf, "microsoft/SatCLIP-ResNet18-L10", {"satclip-resnet18-l10.ckpt": ckpt.read_bytes()})
    np.save(tmp_path / "points.npy", np.array([[2.35, 48.86], [-74.0, 40.7]]))
    env = {"GEOLOC_EMBED_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}
    return tmp_path, env, model


def test_local_files_only_opens_no_socket(caches):
    tmp_path, env, model = caches
    out = _run("""
        case("satclip-uncached", lambda: ge.LocationEncoder.from_pretrained("satclip-vit16-l10", local_files_only=True))
        case("hf-hub-uncached", lambda: ge.LocationEncoder.from_pretrained("hf-hub:someone/missing",
                                                                           local_files_only=True))
        case("hf-hub-cached", lambda: ge.LocationEncoder.from_pretrained("hf-hub:org/tiny",
                                                                         local_files_only=True).embed_dim)
        case("satclip-cached", lambda: ge.LocationEncoder.from_pretrained("satclip-resnet18-l10",
                                                                          local_files_only=True).embed_dim)
        case("csp-uncached", lambda: ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True))
        case("geoclip", lambda: ge.LocationEncoder.from_pretrained("geoclip", local_files_only=True).embed_dim)
    """, env)
    assert out["attempts"] == []
    results = out["results"]
    assert results["satclip-uncached"].startswith("PretrainedNotFoundError") and \
        "satclip-vit16-l10.ckpt" in results["satclip-uncached"]
    assert results["hf-hub-uncached"].startswith("PretrainedNotFoundError")
    assert results["hf-hub-cached"] == model.embed_dim
    assert results["satclip-cached"] == 256
    assert results["csp-uncached"].startswith("PretrainedNotFoundError")
    assert results["geoclip"] == 512 or results["geoclip"].startswith("PretrainedNotFoundError")


def test_cli_embed_local_files_only_opens_no_socket(caches):
    tmp_path, env, model = caches
    points, out_ok, out_missing = tmp_path / "points.npy", tmp_path / "ok.npy", tmp_path / "missing.npy"
    result = _run(f"""
        from geoloc_embed import cli
        case("cached", lambda: cli.main(["embed", "--model", "hf-hub:org/tiny", "--input", {str(points)!r},
                                         "--output", {str(out_ok)!r}, "--local-files-only", "--no-progress"]))
        case("uncached", lambda: cli.main(["embed", "--model", "satclip-resnet50-l40", "--input", {str(points)!r},
                                           "--output", {str(out_missing)!r}, "--local-files-only",
                                           "--no-progress"]))
    """, env)
    assert result["attempts"] == []
    assert result["results"] == {"cached": 0, "uncached": 1}  # exit statuses
    np.testing.assert_allclose(np.load(out_ok), model.encode(np.load(points)), rtol=1e-6, atol=1e-6)
    assert not out_missing.exists()
