"""LocationEncoder: encode/forward equality, options, save/load round trips and strict loading."""

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import geoloc_embed as ge
from geoloc_embed import LocationEncoder, LocationEncoderConfig
from geoloc_embed.config import CSPFFNConfig

POINTS_LONLAT = np.array([[2.3522, 48.8566], [-74.006, 40.7128], [180.0, 0.0], [-180.0, 0.0],
                          [0.0, 90.0], [0.0, -90.0], [139.69, 35.69], [-58.38, -34.6]], dtype=np.float32)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return LocationEncoder(LocationEncoderConfig(num_classes=5))


def forward_eval(model, lonlat):
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(lonlat)).numpy()


def test_encode_equals_forward_in_eval_mode(model):
    big = ge.coords.sample_uniform_sphere(5000, generator=torch.Generator().manual_seed(1)).numpy()
    np.testing.assert_allclose(model.encode(big), forward_eval(model, big), rtol=1e-5, atol=1e-5)
    model.train()
    emb = model.encode(POINTS_LONLAT, order="lonlat")
    assert emb.dtype == np.float32 and emb.shape == (len(POINTS_LONLAT), 256)
    assert model.training  # encode restores the caller's mode
    np.testing.assert_array_equal(emb, forward_eval(model, POINTS_LONLAT))


def test_encode_batching_order_single_point_and_out(model):
    full = model.encode(POINTS_LONLAT)
    # BLAS picks kernels by matrix size, so other batch sizes agree to rounding, not bitwise
    np.testing.assert_allclose(model.encode(POINTS_LONLAT, batch_size=3), full, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.encode(POINTS_LONLAT[:, ::-1].copy(), order="latlon"), full)
    np.testing.assert_allclose(model.encode(POINTS_LONLAT[0]), full[:1], rtol=1e-5, atol=1e-5)
    out = np.zeros_like(full)
    assert model.encode(POINTS_LONLAT, out=out) is out
    np.testing.assert_array_equal(out, full)
    assert model.encode(np.zeros((0, 2))).shape == (0, 256)
    with pytest.raises(ValueError, match="batch_size"):
        model.encode(POINTS_LONLAT, batch_size=0)


def test_encode_float64_copy_agrees_and_leaves_model_alone(model):
    emb64 = model.encode(POINTS_LONLAT, dtype=torch.float64)
    assert emb64.dtype == np.float64 and model.dtype == torch.float32
    np.testing.assert_allclose(emb64, model.encode(POINTS_LONLAT), atol=1e-5)


def test_encode_rejects_bad_input(model):
    with pytest.raises(ge.CoordinateError):
        model.encode([[0.0, 95.0]])
    with pytest.raises(ge.CoordinateError):
        model.encode([[float("nan"), 0.0]])


def test_logits_are_embedding_times_class_head(model):
    emb = model.encode(POINTS_LONLAT)
    weight = model.class_head.weight.detach().numpy()
    np.testing.assert_allclose(model.logits(POINTS_LONLAT), emb @ weight.T, rtol=1e-5, atol=1e-6)


def test_logits_without_head_explain_the_fix():
    with pytest.raises(ge.GeolocEmbedError, match="no class head"):
        LocationEncoder().logits(POINTS_LONLAT)


def test_forward_is_differentiable_and_checks_shape(model):
    x = torch.tensor(POINTS_LONLAT[:2], requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in model.network.parameters())
    with pytest.raises(ge.CoordinateError, match=r"\(N, 2\)"):
        model(torch.zeros(3))


def test_save_and_load_round_trip(model, tmp_path):
    model.save_pretrained(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["README.md", "config.json", "model.safetensors"]  # no temporary files left
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format_version"] == 2 and config["num_classes"] == 5
    assert config["position_encoder"]["family"] == "grid" and config["network"]["name"] == "csp-ffn"
    card = (tmp_path / "m" / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: geoloc-embed" in card
    loaded = LocationEncoder.from_pretrained(tmp_path / "m")
    assert not loaded.training and loaded.config == model.config
    np.testing.assert_array_equal(loaded.encode(POINTS_LONLAT), model.encode(POINTS_LONLAT))
    np.testing.assert_array_equal(loaded.logits(POINTS_LONLAT), model.logits(POINTS_LONLAT))


def _saved(model, tmp_path):
    directory = tmp_path / "m"
    model.save_pretrained(directory)
    return directory


def test_missing_tensor_is_an_error(model, tmp_path):
    directory = _saved(model, tmp_path)
    state = load_file(directory / "model.safetensors")
    del state["class_head.weight"]
    save_file(state, directory / "model.safetensors")
    with pytest.raises(ge.WeightsError, match="missing tensors.*class_head.weight"):
        LocationEncoder.from_pretrained(directory)


def test_unexpected_tensor_and_shape_mismatch_are_errors(model, tmp_path):
    directory = _saved(model, tmp_path)
    state = load_file(directory / "model.safetensors")
    state["extra.weight"] = torch.zeros(2)
    save_file(state, directory / "model.safetensors")
    with pytest.raises(ge.WeightsError, match="unexpected tensors"):
        LocationEncoder.from_pretrained(directory)
    config = json.loads((directory / "config.json").read_text())
    config["num_classes"] = 6
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ge.WeightsError, match="shape mismatch"):
        LocationEncoder.from_pretrained(directory)


def test_truncated_or_garbage_weights_are_reported(model, tmp_path):
    directory = _saved(model, tmp_path)
    data = (directory / "model.safetensors").read_bytes()
    (directory / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ge.WeightsError, match="corrupted or truncated"):
        LocationEncoder.from_pretrained(directory)
    (directory / "model.safetensors").write_bytes(b"\x80\x04garbage-pickle")
    with pytest.raises(ge.WeightsError):
        LocationEncoder.from_pretrained(directory)


def test_tampered_config_is_reported(model, tmp_path):
    directory = _saved(model, tmp_path)
    config = json.loads((directory / "config.json").read_text())
    config["hidden_layers"] = 3
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ge.ConfigError, match="hidden_layers"):
        LocationEncoder.from_pretrained(directory)
    (directory / "config.json").unlink()
    with pytest.raises(ge.PretrainedNotFoundError, match="config.json"):
        LocationEncoder.from_pretrained(directory)


def test_float64_model_round_trip(tmp_path):
    model = LocationEncoder(LocationEncoderConfig(network=CSPFFNConfig(embed_dim=32, hidden_dim=64))).double()
    emb = model.encode(POINTS_LONLAT)
    assert emb.dtype == np.float64
    model.save_pretrained(tmp_path / "m")
    loaded = LocationEncoder.from_pretrained(tmp_path / "m")  # loads in float32, the default
    np.testing.assert_allclose(loaded.encode(POINTS_LONLAT), emb, atol=1e-5)


def test_frequencies_stay_float64_when_the_model_changes_dtype():
    model = LocationEncoder().half().float()
    assert model.position_encoder.frequencies.dtype == torch.float64
    np.testing.assert_allclose(model.position_encoder.frequencies.numpy()[0], 1 / 0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_encode_matches_cpu(model):
    cpu = model.encode(POINTS_LONLAT)
    gpu = model.encode(POINTS_LONLAT, device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)
    bf16 = model.encode(POINTS_LONLAT, device="cuda", dtype=torch.bfloat16)
    assert np.isfinite(bf16).all() and np.abs(bf16 - cpu).max() < 0.1


def test_grid_embedding_distinguishes_nearby_points():
    model = LocationEncoder()
    emb = model.encode([[10.0, 10.0], [10.01, 10.0]])
    assert not np.allclose(emb[0], emb[1])
    assert math.isfinite(float(emb.sum()))


def test_converter_output_that_does_not_fit_the_architecture_is_reported():
    config = LocationEncoderConfig(network=CSPFFNConfig(embed_dim=16, hidden_dim=32))
    state = LocationEncoder(config).state_dict()
    state["network.layers.1.linear.weight"] = torch.zeros(8, 32)
    with pytest.raises(ge.WeightsError, match=r"source.pth does not match its config: shape mismatch"):
        LocationEncoder.from_state_dict(config, state, source="source.pth")
