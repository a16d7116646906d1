"""GeoCLIP: Equal Earth projection, RFF branches, and the converted real weights vs GeoCLIP's own code."""

import importlib.util
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed.architectures import architecture_config
from geoloc_embed.config import EqualEarthRFFConfig, MLPConfig
from geoloc_embed.convert.geoclip import convert, find_geoclip_weights
from geoloc_embed.encoders.positional.equal_earth import equal_earth_projection

# GeoCLIP's rff module (the reference) decorates its functions with torch.jit.script.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

# Both poles, both sides of the antimeridian, 0/0, cities (lon, lat).
POINTS = torch.tensor([
    [0.0, 90.0], [0.0, -90.0], [180.0, 0.0], [-180.0, 0.0], [179.999, 10.0], [-179.999, 10.0],
    [0.0, 0.0], [2.3522, 48.8566], [-74.0060, 40.7128], [139.6917, 35.6895], [-43.1729, -22.9068],
    [151.2093, -33.8688], [37.6173, 55.7558], [-149.9003, 61.2181], [18.4241, -33.9249],
    [-180.0, 90.0], [180.0, -90.0], [100.5018, 13.7563],
], dtype=torch.float64)


# --------------------------------------------------------------------------- projection
def test_equal_earth_matches_proj():
    """Independent reference: PROJ's eqearth on the unit sphere, times GeoCLIP's 66.50336/180."""
    pyproj = pytest.importorskip("pyproj")
    rng = np.random.default_rng(0)
    lonlat = np.concatenate([POINTS.numpy(), np.stack([rng.uniform(-180, 180, 500),
                                                       rng.uniform(-90, 90, 500)], 1)])
    transformer = pyproj.Transformer.from_crs("+proj=longlat +R=1 +no_defs", "+proj=eqearth +R=1 +no_defs",
                                              always_xy=True)
    x, y = transformer.transform(lonlat[:, 0], lonlat[:, 1])
    expected = np.stack([x, y], 1) * 66.50336 / 180.0
    ours = equal_earth_projection(torch.from_numpy(lonlat)).numpy()
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_equal_earth_closed_form_values():
    """Hand values: the equator maps to y = 0 and x proportional to lon; the pole to y = y(t = pi/3)."""
    a1, a2, a3, a4 = 1.340264, -0.081106, 0.000893, 0.003796
    sf = 66.50336 / 180.0
    v = equal_earth_projection(torch.tensor([[90.0, 0.0], [0.0, 90.0], [0.0, -90.0]], dtype=torch.float64))
    x_eq = 2 * math.sqrt(3) * (math.pi / 2) / (3 * a1) * sf
    t = math.pi / 3
    y_pole = (a4 * t ** 9 + a3 * t ** 7 + a2 * t ** 3 + a1 * t) * sf
    torch.testing.assert_close(v, torch.tensor([[x_eq, 0.0], [0.0, y_pole], [0.0, -y_pole]],
                                               dtype=torch.float64), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- encoder layout
def test_rff_features_layout_and_determinism():
    config = ge.LocationEncoderConfig(
        position_encoder=EqualEarthRFFConfig(rff_sigmas=(1.0, 16.0), rff_features=8),
        network=MLPConfig(hidden_dim=16, num_hidden_layers=1, activation="relu", dropout=0.0, embed_dim=4))
    torch.manual_seed(123)
    model = ge.LocationEncoder(config)
    torch.manual_seed(456)
    again = ge.LocationEncoder(config)
    pe = model.position_encoder
    assert pe.num_branches == 2 and pe.out_dim == 32
    assert {k for k in model.state_dict() if k.startswith("position_encoder.")} == {
        "position_encoder.branches.0.b", "position_encoder.branches.1.b"}
    # deterministic, independent of the global RNG, and N(0, sigma^2)-sized
    torch.testing.assert_close(pe.branches[1].b, again.position_encoder.branches[1].b)
    assert pe.branches[0].b.shape == (8, 2)
    big = ge.LocationEncoder(config.replace(rff_features=4096)).position_encoder
    assert abs(float(big.branches[1].b.std()) / 16.0 - 1) < 0.05

    lonlat = POINTS[:5]
    feats = pe(lonlat)
    v = equal_earth_projection(lonlat)
    for i in range(2):
        phase = 2 * math.pi * v @ pe.branches[i].b.double().T
        block = feats[:, 16 * i:16 * (i + 1)]
        torch.testing.assert_close(block[:, :8], torch.cos(phase), rtol=0, atol=1e-12)  # cos first
        torch.testing.assert_close(block[:, 8:], torch.sin(phase), rtol=0, atol=1e-12)


def test_rff_buffer_keeps_precision_under_half():
    config = ge.LocationEncoderConfig(
        position_encoder=EqualEarthRFFConfig(rff_features=16),
        network=MLPConfig(hidden_dim=8, num_hidden_layers=1, activation="relu", dropout=0.0, embed_dim=4))
    pe = ge.LocationEncoder(config).position_encoder
    before = pe.branches[2].b.clone()
    pe.half()
    assert pe.branches[2].b.dtype == torch.float32
    torch.testing.assert_close(pe.branches[2].b, before, rtol=0, atol=0)


# --------------------------------------------------------------------------- real GeoCLIP weights
def _load_geoclip_reference(weights: Path):
    """GeoCLIP's own ``location_encoder.py`` + ``rff`` loaded by file path (no ``import geoclip``)."""
    model_dir = weights.parent.parent
    name = "_geoclip_reference_model"
    if name + ".location_encoder" in sys.modules:
        return sys.modules[name + ".location_encoder"]
    package = types.ModuleType(name)
    package.__path__ = [str(model_dir)]
    sys.modules[name] = package
    misc = types.ModuleType(name + ".misc")  # the real misc.py imports pandas; only file_dir is needed
    misc.file_dir = str(model_dir)
    sys.modules[name + ".misc"] = misc
    spec = importlib.util.spec_from_file_location(name + ".location_encoder", model_dir / "location_encoder.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def geoclip_pair():
    weights = find_geoclip_weights()
    if weights is None:
        pytest.skip("the geoclip wheel is not installed (pip install geoclip --no-deps)")
    reference_module = _load_geoclip_reference(weights)
    reference = reference_module.LocationEncoder(from_pretrained=False)
    reference.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    reference.eval()
    config, state = convert(weights)
    ours = ge.LocationEncoder(config)
    ours.load_state_dict(state, strict=True)
    ours.eval()
    return reference, ours, config


def test_geoclip_config(geoclip_pair):
    _, ours, config = geoclip_pair
    pe, net = config.position_encoder, config.network
    assert pe.family == "equal-earth-rff" and net.name == "mlp"
    assert pe.rff_sigmas == (1.0, 16.0, 256.0) and pe.rff_features == 256
    assert (net.hidden_dim, net.num_hidden_layers, net.embed_dim) == (1024, 3, 512)
    assert net.activation == "relu" and net.dropout == 0.0
    assert config == architecture_config("geoclip")  # the named architecture is the real one
    assert ours.num_parameters() + 3 * 256 * 2 == 9_449_472  # 27 tensors in the file, b's are buffers


def _reference_float64(reference, lonlat):
    """GeoCLIP's module evaluated entirely in float64 (its constants are built in the default dtype)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model64 = reference.double()
        with torch.no_grad():
            return model64(lonlat[:, [1, 0]].double())  # GeoCLIP takes (lat, lon)
    finally:
        torch.set_default_dtype(previous)
        reference.float()


def test_geoclip_real_weights_match_reference(geoclip_pair):
    reference, ours, _ = geoclip_pair
    points = POINTS.float().double()  # the float32 inputs, exactly, for both sides
    expected = _reference_float64(reference, points)
    with torch.no_grad():
        got32 = ours(points.float()).double()
        got64 = ours.double()(points).clone()
    ours.float()
    assert 0.01 < float(expected.abs().max()) < 10  # GeoCLIP embeddings are small (max ~0.064 here)
    torch.testing.assert_close(got64, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(got32, expected, rtol=0, atol=1e-5)
    assert float((got32 - expected).abs().max()) < 1e-6  # measured 1e-7: features are exact to float32
    # the order swap is real: feeding (lat, lon) to ours gives something else
    assert (ours(POINTS[:, [1, 0]].float().clamp(-90, 90)).double() - expected).abs().max() > 1e-2


def test_geoclip_float32_reference_is_itself_noisy(geoclip_pair):
    """GeoCLIP's own float32 path rounds phases of ~6000 rad; ours stays closer to the exact function."""
    reference, ours, _ = geoclip_pair
    points = POINTS.float().double()
    expected = _reference_float64(reference, points)
    with torch.no_grad():
        theirs32 = reference(points[:, [1, 0]].float()).double()
        ours32 = ours(points.float()).double()
    assert (ours32 - expected).abs().max() <= (theirs32 - expected).abs().max()
