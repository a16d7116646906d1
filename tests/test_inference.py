"""The allocation-free CPU inference path behind ``encode`` (geoloc_embed/encoders/inference.py).

Its contract is strict: for every CSP FFN model it must give exactly what ``model(x)`` gives in
eval mode (the same kernels, writing into preallocated buffers), for embeddings and logits, in
float32 and float64, at every chunk boundary.
"""

import math

import numpy as np
import pytest
import torch

import geoloc_embed as ge
import geoloc_embed.encoders.model as model_module
from geoloc_embed.config import GridConfig
from geoloc_embed.encoders import build_position_encoder
from geoloc_embed.encoders.inference import ChunkedInference

NETWORK_VARIANTS = [
    {},  # CSP: 1 hidden layer, leakyrelu, LayerNorm
    {"num_hidden_layers": 3, "activation": "relu"},  # residual hidden layers
    {"activation": "gelu", "use_layernorm": False},  # the bundled model's activation
    {"activation": "tanh", "skip_connection": False, "num_hidden_layers": 2},
    {"activation": "sigmoid", "dropout": 0.0},
    {"num_classes": 7},
]


def perturbed_model(position_encoder: str, dtype=torch.float32, **overrides) -> ge.LocationEncoder:
    """A model whose LayerNorm affine and biases are not at their init values (so they matter)."""
    torch.manual_seed(0)
    model = ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder=position_encoder).replace(**overrides))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model.to(dtype).eval()


def random_points(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.uniform([-180.0, -90.0], [180.0, 90.0], size=(n, 2))
    edges = np.array([[180.0, 90.0], [-180.0, -90.0], [0.0, 0.0], [179.999, -89.999]])
    points[: min(n, 4)] = edges[: min(n, 4)]
    return points


@pytest.mark.parametrize("position_encoder", ["grid", "theory", "sphere-c-plus", "rbf", "spherical-harmonics"])
@pytest.mark.parametrize("overrides", NETWORK_VARIANTS,
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "csp")
def test_encode_is_bitwise_forward(position_encoder, overrides):
    model = perturbed_model(position_encoder, **overrides)
    assert ChunkedInference.supports(model)
    points = random_points(3001)
    with torch.no_grad():
        expected = model(torch.as_tensor(points, dtype=torch.float32))
        expected_logits = model.class_logits(expected) if model.class_head is not None else None
    np.testing.assert_array_equal(model.encode(points), expected.numpy())
    if expected_logits is not None:
        np.testing.assert_array_equal(model.logits(points), expected_logits.numpy())


@pytest.mark.parametrize("n", [1, 5, 1023, 1024, 1025, 4097])
def test_chunk_boundaries_and_small_batches(n, monkeypatch):
    monkeypatch.setattr(model_module, "_CPU_CHUNK_ROWS", 1024)
    model = perturbed_model("grid")
    points = torch.as_tensor(random_points(n, seed=n), dtype=torch.float32)

    def forward_in_chunks(rows: int) -> np.ndarray:
        # BLAS may pick another kernel for another number of rows (a 1-row chunk is a GEMV),
        # so "bitwise" means: equal to forward over the same chunks.
        with torch.no_grad():
            return torch.cat([model(points[i:i + rows]) for i in range(0, n, rows)]).numpy()

    expected = forward_in_chunks(1024)
    np.testing.assert_array_equal(model.encode(points.numpy()), expected)
    np.testing.assert_array_equal(model.encode(points.numpy(), batch_size=300), forward_in_chunks(300))
    out = np.full((n, model.embed_dim), np.nan, dtype=np.float32)
    assert model.encode(points.numpy(), out=out) is out
    np.testing.assert_array_equal(out, expected)
    with torch.no_grad():
        whole = model(points).numpy()
    np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-5)


def test_float64_model_takes_the_same_path_exactly():
    model = perturbed_model("grid", dtype=torch.float64)
    assert ChunkedInference.supports(model)
    points = random_points(2500)
    with torch.no_grad():
        expected = model(torch.as_tensor(points, dtype=torch.float64)).numpy()
    result = model.encode(points)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)


def test_grid_forward_into_matches_the_spec_formula():
    """Independent values: numpy float64 sin/cos of degrees times CSP's geometric frequencies."""
    config = GridConfig(frequency_num=4, min_radius=0.1, max_radius=360.0)
    encoder = build_position_encoder(config)
    lonlat = torch.tensor([[-179.5, 89.25], [12.0, -45.5], [180.0, -90.0]], dtype=torch.float64)
    scales = 0.1 * (360.0 / 0.1) ** (np.arange(4) / 3)
    expected = []
    for lon, lat in lonlat.numpy():
        row = []
        for value in (lon, lat):
            for scale in scales:
                row += [math.sin(value / scale), math.cos(value / scale)]
        expected.append(row)
    workspace = torch.empty(3 * 16, dtype=torch.float64)
    out = torch.empty(3, 16, dtype=torch.float64)
    with torch.no_grad():
        written = encoder.forward_into(lonlat, out, workspace)
        plain = encoder(lonlat)
    assert written.data_ptr() == out.data_ptr()
    np.testing.assert_allclose(out.numpy(), np.array(expected), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(out.numpy(), plain.numpy())


def test_grid_features_stay_differentiable_in_the_coordinates():
    encoder = build_position_encoder(GridConfig(frequency_num=3))
    lonlat = torch.tensor([[10.0, 20.0]], dtype=torch.float64, requires_grad=True)
    encoder(lonlat)[0, 1].backward()  # d/dlon cos(lon * w0) = -w0 sin(lon * w0)
    w0 = 1 / 0.1
    assert lonlat.grad[0, 0].item() == pytest.approx(-w0 * math.sin(10.0 * w0), rel=1e-9)


@pytest.mark.parametrize("overrides", [{"network": "fcnet"}, {"network": "mlp"}])
def test_other_networks_are_not_planned_and_still_match(overrides):
    model = perturbed_model("wrap", **overrides)
    assert not ChunkedInference.supports(model)
    points = random_points(700)
    with torch.no_grad():
        expected = model(torch.as_tensor(points, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(model.encode(points), expected, rtol=0, atol=1e-6)


def test_training_mode_is_not_supported_and_oversized_chunks_are_refused():
    model = perturbed_model("grid")
    model.train()
    assert not ChunkedInference.supports(model)
    with pytest.raises(ValueError, match="CSP FFN"):
        ChunkedInference(model, 16)
    model.eval()
    plan = ChunkedInference(model, 16)
    with torch.inference_mode(), pytest.raises(ValueError, match="exceeds the 16 rows"):
        plan(torch.zeros(17, 2), torch.empty(17, model.embed_dim))


def test_encode_restores_training_mode():
    model = perturbed_model("grid")
    model.train()
    model.encode(random_points(10))
    assert model.training


def test_an_activation_without_an_in_place_kernel_falls_back_correctly():
    model = perturbed_model("grid")
    model.network.layers[0].activation = torch.nn.ELU()  # a module the plan has no in-place form of
    points = random_points(1500)
    with torch.no_grad():
        expected = model(torch.as_tensor(points, dtype=torch.float32)).numpy()
    np.testing.assert_array_equal(model.encode(points), expected)


@pytest.mark.parametrize("layout", ["float64", "fortran"])
def test_out_arrays_that_cannot_be_written_directly_still_get_the_result(layout):
    model = perturbed_model("grid")
    points = random_points(1500)
    expected = model.encode(points)
    if layout == "float64":
        out = np.zeros((1500, model.embed_dim), dtype=np.float64)
    else:
        out = np.zeros((1500, model.embed_dim), dtype=np.float32, order="F")
    assert model.encode(points, out=out) is out
    np.testing.assert_array_equal(out, expected.astype(out.dtype))
