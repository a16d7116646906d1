"""``encode`` / ``logits``: a batched loop over ``self(x)`` (geoloc_embed/encoders/model.py).

``encode`` runs the model in chunks of ``_CPU_CHUNK_ROWS`` rows under ``torch.no_grad()`` in eval
mode, so it must give what ``model(x)`` gives, for every family and network, in float32 and
float64, at every chunk boundary, into fresh or preallocated (``out=``) arrays.

Tolerance. The chunks hand BLAS another number of rows than one whole-batch call, and BLAS may then
pick another kernel and summation order (a 1-row chunk is a GEMV): the results agree to float32
rounding, not bit for bit. Reordering a float32 sum of K terms changes it by about sqrt(K) * eps
times the magnitude of its terms (rounding errors add like a random walk); a few layers and
LayerNorm's rescaling add a small factor, and SIREN's first-layer w0 = 30 multiplies its input's
rounding by 30. ``assert_matches_forward`` allows 16 * sqrt(K) * eps32 of the row's scale
(max(1, max |row|)), K the widest Linear input; measured on this project's machine: <= 0.5 of
sqrt(K) * eps32 for the CSP FFN, 2.4 with tanh, 5.3 for SIREN.
"""

import math

import numpy as np
import pytest
import torch

import geoloc_embed as ge
import geoloc_embed.encoders.model as model_module
from geoloc_embed.config import GridConfig
from geoloc_embed.encoders import build_position_encoder

EPS32 = float(np.finfo(np.float32).eps)

NETWORK_VARIANTS = [
    {},  # CSP: 1 hidden layer, leakyrelu, LayerNorm
    {"num_hidden_layers": 3, "activation": "relu"},  # residual hidden layers (in place under no_grad)
    {"activation": "gelu", "use_layernorm": False},  # the bundled model's activation
    {"activation": "tanh", "skip_connection": False, "num_hidden_layers": 2},
    {"activation": "sigmoid", "dropout": 0.0},
    {"num_classes": 7},
    {"network": "fcnet"},
    {"network": "mlp", "activation": "relu"},
    {"network": "siren", "num_hidden_layers": 2, "siren_w0": 1.5},
]

#: One small but representative config per family (radian scales for the sphere families).
_SPHERE = {"min_radius": 0.001, "max_radius": 1.0}
FAMILY_OVERRIDES = {
    "sphere-c": _SPHERE, "sphere-c-plus": _SPHERE, "sphere-m": _SPHERE, "sphere-m-plus": _SPHERE,
    "dfs": {**_SPHERE, "frequency_num": 4},
    "rbf": {"num_anchors": 64},
    "rff": {"frequency_num": 64, "map_range": (-162.0, -59.0, 20.0, 56.0)},  # most points outside: big phases
    "tile": {"tile_size": 10.0, "tile_embed_dim": 16},
    "spherical-harmonics": {"sh_degree": 10},
    "equal-earth-rff": {"network": "mlp", "rff_features": 32, "hidden_dim": 64, "embed_dim": 32},
}


def perturbed_model(position_encoder: str, dtype=torch.float32, **overrides) -> ge.LocationEncoder:
    """A model whose LayerNorm affine and biases are not at their init values (so they matter)."""
    torch.manual_seed(0)
    fields = {**FAMILY_OVERRIDES.get(position_encoder, {}), **overrides}
    model = ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder=position_encoder).replace(**fields))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model.to(dtype).eval()


def random_points(n: int, seed: int = 0) -> np.ndarray:
    """Uniform [lon, lat] degrees, the first rows at the poles, the antimeridian and the origin."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([-180.0, -90.0], [180.0, 90.0], size=(n, 2))
    edges = np.array([[180.0, 90.0], [-180.0, -90.0], [0.0, 0.0], [179.999, -89.999], [-180.0, 0.0]])
    points[: min(n, len(edges))] = edges[: min(n, len(edges))]
    return points


def forward(model: ge.LocationEncoder, points: np.ndarray, logits: bool = False) -> np.ndarray:
    """What encode promises: ``model(x)`` in eval mode under no_grad, whole batch."""
    with torch.no_grad():
        embedding = model(torch.as_tensor(points, dtype=model.dtype))
        return (model.class_logits(embedding) if logits else embedding).numpy()


def assert_matches_forward(got: np.ndarray, expected: np.ndarray, model: torch.nn.Module) -> None:
    """|got - expected| <= 16 sqrt(K) eps32 max(1, max |row|) (module docstring)."""
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.isfinite(got).all()
    widths = [m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    widths += [m.in_dim for m in model.modules() if hasattr(m, "in_dim") and isinstance(m.in_dim, int)]
    k = max(widths, default=1)
    eps = EPS32 if got.dtype == np.float32 else float(np.finfo(np.float64).eps)
    scale = np.maximum(1.0, np.abs(expected).max(axis=1, keepdims=True))
    bound = 16.0 * math.sqrt(k) * eps * scale
    err = np.abs(got.astype(np.float64) - expected)
    allowed = 16.0 * math.sqrt(k) * eps
    assert np.all(err <= bound), f"max error {float((err / scale).max()):.3g} x row scale > {allowed:.3g}"


@pytest.mark.parametrize("position_encoder", ge.list_position_encoders())
def test_encode_equals_forward_for_every_family(position_encoder):
    model = perturbed_model(position_encoder, num_classes=5)
    points = random_points(2100)  # three 1024-row chunks
    assert_matches_forward(model.encode(points), forward(model, points), model)
    assert_matches_forward(model.logits(points), forward(model, points, logits=True), model)


@pytest.mark.parametrize("position_encoder", ["grid", "theory", "sphere-c-plus", "spherical-harmonics"])
@pytest.mark.parametrize("overrides", NETWORK_VARIANTS,
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "csp")
def test_encode_equals_forward_for_every_network(position_encoder, overrides):
    model = perturbed_model(position_encoder, **overrides)
    points = random_points(3001)
    assert_matches_forward(model.encode(points), forward(model, points), model)
    if model.class_head is not None:
        assert_matches_forward(model.logits(points), forward(model, points, logits=True), model)


@pytest.mark.parametrize("n", [1, 5, 1023, 1024, 1025, 4097])
def test_chunk_boundaries_and_small_batches(n, monkeypatch):
    monkeypatch.setattr(model_module, "_CPU_CHUNK_ROWS", 1024)
    model = perturbed_model("grid", num_classes=3)
    points = random_points(n, seed=n)
    expected = forward(model, points)
    assert_matches_forward(model.encode(points), expected, model)
    assert_matches_forward(model.encode(points, batch_size=300), expected, model)  # batches across chunks
    out = np.full((n, model.embed_dim), np.nan, dtype=np.float32)
    assert model.encode(points, out=out) is out
    assert_matches_forward(out, expected, model)
    assert_matches_forward(model.logits(points, batch_size=700), forward(model, points, logits=True), model)


def test_empty_input_gives_an_empty_array():
    model = perturbed_model("grid")
    assert model.encode(np.zeros((0, 2))).shape == (0, model.embed_dim)


def test_float64_model_runs_in_float64():
    model = perturbed_model("grid", dtype=torch.float64)
    points = random_points(2500)
    result = model.encode(points)
    assert result.dtype == np.float64
    assert_matches_forward(result, forward(model, points), model)
    # ... and agrees with the float32 model to float32 accuracy, on the same (float32-rounded) input
    rounded = points.astype(np.float32).astype(np.float64)
    single = perturbed_model("grid").encode(rounded)
    np.testing.assert_allclose(single, model.encode(rounded), rtol=0, atol=1e-5 * np.abs(result).max())


def test_grid_features_match_the_spec_formula():
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
    with torch.no_grad():
        features = encoder(lonlat)
    np.testing.assert_allclose(features.numpy(), np.array(expected), rtol=0, atol=1e-12)


def test_grid_features_stay_differentiable_in_the_coordinates():
    encoder = build_position_encoder(GridConfig(frequency_num=3))
    lonlat = torch.tensor([[10.0, 20.0]], dtype=torch.float64, requires_grad=True)
    encoder(lonlat)[0, 1].backward()  # d/dlon cos(lon * w0) = -w0 sin(lon * w0)
    w0 = 1 / 0.1
    assert lonlat.grad[0, 0].item() == pytest.approx(-w0 * math.sin(10.0 * w0), rel=1e-9)


def test_float64_copy_leaves_the_float32_model_alone():
    model = perturbed_model("spherical-harmonics", network="siren", num_hidden_layers=2)
    points = random_points(1500).astype(np.float32).astype(np.float64)  # same input for both precisions
    result = model.encode(points, dtype=torch.float64)
    assert result.dtype == np.float64 and model.dtype == torch.float32
    np.testing.assert_allclose(result, forward(model, points), rtol=0, atol=1e-4)


def test_memmap_output_is_written_chunk_by_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(model_module, "_CPU_CHUNK_ROWS", 256)
    model = perturbed_model("grid")
    points = random_points(1300)
    path = tmp_path / "embeddings.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(1300, model.embed_dim))
    assert model.encode(points, out=out, batch_size=500) is out
    out.flush()
    assert_matches_forward(np.load(path), forward(model, points), model)


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
    np.testing.assert_array_equal(out, expected.astype(out.dtype))  # the same float32 values, copied


def test_bad_out_arrays_are_refused_before_any_work(tmp_path):
    model = perturbed_model("grid")
    points = random_points(10)
    with pytest.raises(ValueError, match="shape"):
        model.encode(points, out=np.empty((9, model.embed_dim), dtype=np.float32))
    with pytest.raises(ValueError, match="floating dtype"):
        model.encode(points, out=np.zeros((10, model.embed_dim), dtype=np.int32))
    with pytest.raises(TypeError, match="numpy array"):
        model.encode(points, out=torch.empty(10, model.embed_dim))
    path = tmp_path / "ro.npy"
    np.save(path, np.zeros((10, model.embed_dim), dtype=np.float32))
    with pytest.raises(ValueError, match="read-only"):
        model.encode(points, out=np.load(path, mmap_mode="r"))


def test_encode_restores_every_module_mode_exactly():
    model = perturbed_model("grid")
    model.train()
    model.network.layers[0].eval()  # a mixed state must come back exactly
    before = [m.training for m in model.modules()]
    model.encode(random_points(10))
    assert [m.training for m in model.modules()] == before


def test_encode_is_deterministic_in_a_train_mode_model():
    """Dropout is off during encode even when the model is in training mode."""
    model = perturbed_model("grid", dropout=0.5).train()
    points = random_points(300)
    first = model.encode(points)
    np.testing.assert_array_equal(model.encode(points), first)
    model.eval()
    assert_matches_forward(first, forward(model, points), model)
