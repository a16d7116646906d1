"""Issue 13 items 6 and 9: weights are checked against their config before the model is allocated.

* A ``config.json`` that implies a huge network (64 layers x 16384 wide: 68 GB of float32) beside a small
  ``model.safetensors`` is a clear ``WeightsError``, raised without allocating (checked in a process
  whose address space may grow by 2 GiB at most).
* Integer and bool tensors where the model holds floating-point values are a ``WeightsError`` naming
  the tensor and its dtype; floating-point files of another precision load (cast).
* The skeleton (parameters on the meta device) has exactly the layout of the real model for every
  named architecture, and building it leaves the encoders' cached constants intact.
"""

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import geoloc_embed as ge
from geoloc_embed import io as ge_io
from geoloc_embed.architectures import architecture_config

REPO_ROOT = Path(__file__).resolve().parents[1]
POINTS = [[2.35, 48.86], [-74.0, 40.7], [180.0, 0.0]]


def _small(tmp_path: Path) -> tuple[ge.LocationEncoder, Path]:
    torch.manual_seed(0)
    model = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6, num_classes=3)
    model.save_pretrained(tmp_path / "m")
    return model, tmp_path / "m"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="caps the address space with RLIMIT_AS, reads /proc")
def test_huge_config_beside_small_weights_fails_before_allocating(tmp_path):
    _, directory = _small(tmp_path)
    config = json.loads((directory / "config.json").read_text())
    config["network"].update(num_hidden_layers=64, hidden_dim=16384)
    (directory / "config.json").write_text(json.dumps(config))
    code = textwrap.dedent(f"""
        import resource, json
        import geoloc_embed as ge
        status = open("/proc/self/status").read()
        used = int(status.split("VmSize:")[1].split()[0]) << 10 if "VmSize:" in status else 1 << 30
        limit = used + (2 << 30)  # 2 GiB more than the interpreter has mapped: the config implies 68 GB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            ge.LocationEncoder.from_pretrained({str(directory)!r})
            print(json.dumps({{"error": None}}))
        except Exception as exc:
            # VmHWM: this process's own peak (ru_maxrss would include the forking pytest's memory)
            peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
            print(json.dumps({{"error": type(exc).__name__, "message": str(exc), "peak_kib": peak}}))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["error"] == "WeightsError", result
    assert "does not match its config" in result["message"] and "shape mismatch" in result["message"]
    assert "network.layers.1.linear.weight" in result["message"] or "missing tensors" in result["message"]
    assert result["peak_kib"] < 2 << 20  # far below the 68 GB the config implies


def test_huge_config_for_converted_weights_fails_before_allocating():
    config = architecture_config("csp-grid").replace(num_hidden_layers=64, hidden_dim=16384)
    small = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6).state_dict()
    with pytest.raises(ge.WeightsError, match="converted.pth does not match its config"):
        ge.LocationEncoder.from_state_dict(config, small, source="converted.pth")


def test_header_claiming_more_data_than_the_file_holds(tmp_path):
    _, directory = _small(tmp_path)
    header = json.dumps({"network.layers.0.linear.weight": {"dtype": "F32", "shape": [16384, 16384],
                                                             "data_offsets": [0, 16384 * 16384 * 4]}}).encode()
    (directory / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    with pytest.raises(ge.WeightsError, match="not a readable safetensors file"):
        ge.LocationEncoder.from_pretrained(directory)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_integer_and_bool_tensors_are_refused(tmp_path, dtype):
    _, directory = _small(tmp_path)
    state = load_file(directory / "model.safetensors")
    name = "network.layers.0.linear.weight"
    state[name] = (state[name] * 1000).to(dtype)
    save_file(state, directory / "model.safetensors")
    with pytest.raises(ge.WeightsError) as info:
        ge.LocationEncoder.from_pretrained(directory)
    message = str(info.value)
    assert name in message and str(dtype).replace("torch.", "") in message and "float32" in message
    with pytest.raises(ge.WeightsError, match=name):
        ge.LocationEncoder.from_state_dict(ge_io.read_config(directory), state)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_precisions_load_cast(tmp_path, dtype):
    model, directory = _small(tmp_path)
    state = {k: v.to(dtype) for k, v in load_file(directory / "model.safetensors").items()}
    save_file(state, directory / "model.safetensors")
    loaded = ge.LocationEncoder.from_pretrained(directory)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    tolerance = 1e-6 if dtype == torch.float64 else 5e-2
    np.testing.assert_allclose(loaded.encode(POINTS), model.encode(POINTS), rtol=tolerance, atol=tolerance)


def test_missing_and_unexpected_tensors_are_named(tmp_path):
    _, directory = _small(tmp_path)
    state = load_file(directory / "model.safetensors")
    state.pop("class_head.weight")
    state["extra.weight"] = torch.zeros(2)
    save_file(state, directory / "model.safetensors")
    with pytest.raises(ge.WeightsError, match=r"missing tensors \['class_head.weight'\].*unexpected tensors "
                                              r"\['extra.weight'\]"):
        ge.LocationEncoder.from_pretrained(directory)


@pytest.mark.parametrize("name", ge.list_models())
def test_skeleton_layout_is_the_real_models(name):
    config = architecture_config(name)
    torch.manual_seed(0)
    before = ge.LocationEncoder(config).encode(POINTS)
    real = ge.LocationEncoder(config).state_dict()
    expected = ge.LocationEncoder._check_layout(config, ge_io.layout_of(real), name)  # raises on any difference
    assert expected == ge_io.layout_of(real)
    torch.manual_seed(0)
    after = ge.LocationEncoder(config).encode(POINTS)  # cached constants were not replaced by meta tensors
    np.testing.assert_array_equal(after, before)
