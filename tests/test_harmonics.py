"""Spherical harmonics (SatCLIP convention) vs scipy, orthonormality, float32 stability, continuity."""

import math

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed.config import SirenConfig, SphericalHarmonicsConfig
from geoloc_embed.encoders._inplace import may_overwrite
from geoloc_embed.encoders.positional import harmonics as _harmonics
from geoloc_embed.encoders.positional.harmonics import real_spherical_harmonics

special = pytest.importorskip("scipy.special")


def _scipy_complex(l, m, theta, phi):
    """Complex Y_l^m (orthonormal, with the Condon-Shortley phase) from scipy, any scipy >= 1.9."""
    if hasattr(special, "sph_harm_y"):  # scipy >= 1.15: (n, m, polar, azimuth)
        return special.sph_harm_y(l, m, theta, phi)
    return special.sph_harm(m, l, phi, theta)  # older: (m, n, azimuth, polar)


def satclip_reference(lonlat: np.ndarray, num_degrees: int, m0_scale: float = math.pi) -> np.ndarray:
    """SatCLIP's real harmonics built from scipy's complex ones.

    SatCLIP: phi = lon + 180 deg, theta = lat + 90 deg; m > 0: sqrt(2) Pbar cos(m phi), m < 0:
    sqrt(2) Pbar sin(|m| phi), m = 0: pi * Pbar, with Pbar free of the Condon-Shortley phase, so
    (-1)**m times scipy's real/imaginary parts.
    """
    theta = np.deg2rad(lonlat[:, 1] + 90.0)
    phi = np.deg2rad(lonlat[:, 0] + 180.0)
    columns = []
    for l in range(num_degrees):
        for m in range(-l, l + 1):
            y = _scipy_complex(l, abs(m), theta, phi)
            if m < 0:
                columns.append(math.sqrt(2) * (-1) ** m * y.imag)
            elif m == 0:
                columns.append(m0_scale * y.real)
            else:
                columns.append(math.sqrt(2) * (-1) ** m * y.real)
    return np.stack(columns, axis=1)


def _points(n=300, seed=0):
    rng = np.random.default_rng(seed)
    special_points = np.array([[0, 90], [0, -90], [123.4, 90], [-57.0, -90], [180, 0], [-180, 0], [0, 0],
                               [180, 89.999], [-180, -89.999], [45, 45], [-135, -30]], dtype=np.float64)
    random = np.stack([rng.uniform(-180, 180, n), np.rad2deg(np.arcsin(rng.uniform(-1, 1, n)))], axis=1)
    return np.concatenate([special_points, random])


@pytest.mark.parametrize("num_degrees", [10, 40])
def test_values_match_scipy(num_degrees):
    lonlat = _points()
    expected = satclip_reference(lonlat, num_degrees)
    got64 = real_spherical_harmonics(torch.from_numpy(lonlat), num_degrees).numpy()
    np.testing.assert_allclose(got64, expected, rtol=0, atol=1e-10)
    # float32 on the same (float32-representable) inputs: the recurrence keeps float32 accuracy
    lonlat32 = lonlat.astype(np.float32)
    expected32 = satclip_reference(lonlat32.astype(np.float64), num_degrees)
    got32 = real_spherical_harmonics(torch.from_numpy(lonlat32), num_degrees)
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.numpy(), expected32, rtol=0, atol=1e-5)


def test_encoder_layout_and_known_values():
    """Hand values of SatCLIP's first functions (its table: Y00 = sqrt(pi)/2, Y1,-1 = sqrt(3/4pi) sin(t) sin(p) ...)."""
    pe = ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder=SphericalHarmonicsConfig(sh_degree=3),
                                                     network=SirenConfig(dropout=0.0))).position_encoder
    assert pe.out_dim == 9 and pe.state_dict() == {}
    lon, lat = 30.0, 20.0
    got = pe(torch.tensor([[lon, lat]], dtype=torch.float64))[0]
    t, p = math.radians(lat + 90), math.radians(lon + 180)
    c1 = math.sqrt(3 / (4 * math.pi))
    expected = [
        math.sqrt(math.pi) / 2,                                     # l=0: pi * 1/sqrt(4 pi)
        c1 * math.sin(t) * math.sin(p), math.pi * c1 * math.cos(t), c1 * math.sin(t) * math.cos(p),
        0.5 * math.sqrt(15 / math.pi) * math.sin(t) ** 2 * math.sin(p) * math.cos(p),                 # m=-2
        0.5 * math.sqrt(15 / math.pi) * math.sin(t) * math.cos(t) * math.sin(p),                      # m=-1
        math.pi * 0.25 * math.sqrt(5 / math.pi) * (3 * math.cos(t) ** 2 - 1),                         # m=0
        0.5 * math.sqrt(15 / math.pi) * math.sin(t) * math.cos(t) * math.cos(p),                      # m=1
        0.25 * math.sqrt(15 / math.pi) * math.sin(t) ** 2 * math.cos(2 * p),                          # m=2
    ]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-14)


def test_orthonormal_on_quadrature_grid():
    """Gram matrix on an exact Gauss-Legendre x uniform-longitude rule: identity (orthonormal basis),
    and for SatCLIP's scaling diag(pi**2 on m = 0, 1 elsewhere)."""
    L = 20
    nodes, weights = np.polynomial.legendre.leggauss(L + 1)      # exact for degree <= 2L + 1 in sin(lat)
    lat = np.rad2deg(np.arcsin(nodes))
    nlon = 2 * L + 1                                              # exact for |m1 +- m2| <= 2L - 2
    lon = -180.0 + 360.0 * np.arange(nlon) / nlon
    grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
    lonlat = torch.from_numpy(np.stack([grid_lon.ravel(), grid_lat.ravel()], 1))
    w = torch.from_numpy(np.repeat(weights, nlon) * (2 * math.pi / nlon))
    y = real_spherical_harmonics(lonlat, L, m0_scale=1.0)
    gram = y.T @ (y * w[:, None])
    torch.testing.assert_close(gram, torch.eye(L * L, dtype=torch.float64), rtol=0, atol=1e-4)
    assert float((gram - torch.eye(L * L, dtype=torch.float64)).abs().max()) < 1e-12  # in fact exact
    y_satclip = real_spherical_harmonics(lonlat, L)
    gram_satclip = y_satclip.T @ (y_satclip * w[:, None])
    is_m0 = torch.tensor([m == 0 for l in range(L) for m in range(-l, l + 1)])
    expected = torch.diag(torch.where(is_m0, math.pi ** 2, 1.0).double())
    torch.testing.assert_close(gram_satclip, expected, rtol=0, atol=1e-4)


def test_float32_high_degree_finite_and_accurate():
    """L = 100 in float32: finite everywhere, poles included, and within 2e-5 of float64.

    Tolerance: values reach ~12.5 (pi * sqrt(199 / 4 pi)); float32 rounding of the result alone is
    ~1e-6 there, and the Reinsch-form recurrence adds rounding that grows slowly with l (measured
    1e-5 max at L = 100, i.e. < 1e-6 relative), so 2e-5 bounds it with a small margin. The plain
    recurrence would lose ~eps * l**2 * |Y| ~ 1e-3 near the poles and fail this test.
    """
    L = 100
    rng = np.random.default_rng(1)
    lat = np.concatenate([[90, -90, 89.99, -89.99, 89.9, -89.9, 0, 45], rng.uniform(-90, 90, 150)])
    lonlat32 = torch.from_numpy(np.stack([rng.uniform(-180, 180, lat.size), lat], 1)).float()
    y32 = real_spherical_harmonics(lonlat32, L)
    assert y32.dtype == torch.float32 and y32.shape == (lat.size, L * L)
    assert bool(torch.isfinite(y32).all())
    y64 = real_spherical_harmonics(lonlat32.double(), L)
    assert float(y64.abs().max()) > 10
    torch.testing.assert_close(y32.double(), y64, rtol=0, atol=2e-5)


def test_antimeridian_and_pole_continuity():
    L = 40
    lat = torch.linspace(-89.5, 89.5, 37, dtype=torch.float64)
    east = real_spherical_harmonics(torch.stack([torch.full_like(lat, 180.0), lat], 1), L)
    west = real_spherical_harmonics(torch.stack([torch.full_like(lat, -180.0), lat], 1), L)
    torch.testing.assert_close(east, west, rtol=0, atol=1e-12)
    eps = 1e-7
    near_e = real_spherical_harmonics(torch.stack([torch.full_like(lat, 180.0 - eps), lat], 1), L)
    near_w = real_spherical_harmonics(torch.stack([torch.full_like(lat, -180.0 + eps), lat], 1), L)
    torch.testing.assert_close(near_e, near_w, rtol=0, atol=1e-4)
    # at a pole every longitude gives the same features
    lon = torch.linspace(-180, 180, 13, dtype=torch.float64)
    for pole in (90.0, -90.0):
        y = real_spherical_harmonics(torch.stack([lon, torch.full_like(lon, pole)], 1), L)
        torch.testing.assert_close(y, y[:1].expand_as(y), rtol=0, atol=1e-12)


def test_gradients_are_finite_everywhere():
    lonlat = torch.tensor([[0.0, 90.0], [10.0, -90.0], [180.0, 0.0], [-30.0, 0.0], [5.0, 45.0]],
                          dtype=torch.float64, requires_grad=True)
    real_spherical_harmonics(lonlat, 12).sum().backward()
    assert bool(torch.isfinite(lonlat.grad).all())
    # and correct at the equator (where the parity split happens): compare with finite differences
    point = torch.tensor([[-30.0, 0.0]], dtype=torch.float64, requires_grad=True)
    weights = torch.randn(144, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (real_spherical_harmonics(point, 12) @ weights).sum().backward()
    h = 1e-6
    def f(p):
        return float(real_spherical_harmonics(p, 12) @ weights)

    up, down = torch.tensor([[-30.0, h]], dtype=torch.float64), torch.tensor([[-30.0, -h]], dtype=torch.float64)
    numeric = (f(up) - f(down)) / (2 * h)
    assert abs(float(point.grad[0, 1]) - numeric) < 1e-6 * max(1.0, abs(numeric))


def test_dtype_follows_input_and_model():
    model = ge.create_model("satclip-sh-siren", hidden_dim=16, embed_dim=8, dropout=0.0).eval()
    x = torch.tensor([[2.35, 48.86], [-74.0, 40.7]])
    assert model(x).dtype == torch.float32
    y64 = model.double()(x.double())
    assert y64.dtype == torch.float64
    torch.testing.assert_close(model.float()(x).double(), y64, rtol=0, atol=1e-4)


# ----------------------------------------------------------------------------- inference path


def _random_lonlat(n, seed=0, dtype=torch.float32):
    lonlat = torch.from_numpy(_points(n, seed)).to(dtype)
    lonlat[-1] = torch.tensor([10.0, 0.0])  # x = -0.0 exactly: the parity split
    return lonlat


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_degrees", [1, 2, 10, 40, 170])
def test_in_place_and_recorded_evaluations_agree_bitwise(num_degrees, dtype):
    """The one implementation runs its kernels in place on blocks when autograd does not record and
    out of place on the whole batch when it does; each element sees the same operations, so the two
    agree bit for bit (a traced/exported model matches eager inference exactly). L = 170 >
    FLOAT32_RECURRENCE_MAX_DEGREES covers float64 compute with float32 output."""
    lonlat = _random_lonlat(120, dtype=dtype)
    before = lonlat.clone()
    assert may_overwrite(lonlat)
    fast = real_spherical_harmonics(lonlat, num_degrees)
    with torch.no_grad():
        assert torch.equal(real_spherical_harmonics(lonlat, num_degrees), fast)
    differentiable_input = lonlat.clone().requires_grad_()
    assert not may_overwrite(differentiable_input)
    slow = real_spherical_harmonics(differentiable_input, num_degrees)
    assert slow.requires_grad and not fast.requires_grad
    assert fast.dtype == slow.dtype == dtype and fast.shape == slow.shape == (lonlat.shape[0], num_degrees ** 2)
    assert torch.equal(fast, slow.detach())
    assert torch.equal(lonlat, before)  # the input is never written


@pytest.mark.parametrize("block", [1, 7, 64, None])
def test_inference_blocks_are_independent(block):
    """Any block size gives the same values; a NaN point stays in its own row (buffers are reset
    per block), and empty / single-point batches work."""
    L = 12
    lonlat = _random_lonlat(37)
    expected = real_spherical_harmonics(lonlat, L)

    def run(x):
        return _harmonics._evaluate(x, L, math.pi, torch.float32, block=block)

    assert torch.equal(run(lonlat), expected)
    poisoned = lonlat.clone()
    poisoned[5, 1] = float("nan")
    got = run(poisoned)
    assert bool(torch.isnan(got[5, 1:]).all()) and got[5, 0] == expected[5, 0]  # Y_0^0 is a constant
    keep = torch.arange(lonlat.shape[0]) != 5
    assert torch.equal(got[keep], expected[keep])
    assert run(lonlat[:0]).shape == (0, L * L)
    assert torch.equal(run(lonlat[3:4]), expected[3:4])
    differentiable = lonlat[:0].clone().requires_grad_()
    assert real_spherical_harmonics(differentiable, L).shape == (0, L * L)


@pytest.mark.filterwarnings("ignore:.*torch.jit.trace.*:DeprecationWarning")
def test_trace_is_out_of_place_and_independent_of_the_batch_size():
    """A trace records the out-of-place kernels on the whole batch: no in-place ops (ONNX has none),
    no block loop baked in, and other batch sizes give eager's bits."""
    pe = ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder=SphericalHarmonicsConfig(sh_degree=6),
                                                     network=SirenConfig(dropout=0.0))).position_encoder
    with torch.no_grad():
        traced = torch.jit.trace(pe, (_random_lonlat(16),), check_trace=False)
        for n in (3, 40, 2500):
            x = _random_lonlat(n, seed=n)
            assert torch.equal(traced(x), pe(x))
    graph = str(traced.inlined_graph)
    assert "aten::sin(" in graph and "aten::sin_" not in graph and "aten::addcmul_" not in graph


def test_encoder_inference_matches_autograd_and_gradients_flow():
    """Training: the encoder has no parameters, so a plain input takes the inference path; the
    network's gradients are the same as with a differentiable input, and gradients reach lonlat."""
    config = ge.LocationEncoderConfig(position_encoder=SphericalHarmonicsConfig(sh_degree=10),
                                      network=SirenConfig(hidden_dim=16, num_hidden_layers=2, embed_dim=8, dropout=0.0))
    torch.manual_seed(0)
    model = ge.LocationEncoder(config).train()
    lonlat = _random_lonlat(50)

    def param_grads(x):
        model.zero_grad()
        model(x).square().sum().backward()
        return [p.grad.clone() for p in model.parameters()]

    plain = param_grads(lonlat)
    differentiable = lonlat.clone().requires_grad_()
    through = param_grads(differentiable)
    for a, b in zip(plain, through, strict=False):
        assert torch.equal(a, b)
    assert differentiable.grad is not None and bool(torch.isfinite(differentiable.grad).all())
    assert float(differentiable.grad.abs().sum()) > 0
