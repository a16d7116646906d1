"""Values and layouts of the CSP-family position encoders, checked against hand-written formulas.

Every expected value here is computed with ``math`` / numpy float64 from the formulas of
csp-spec.md (section 1.3 and section 9), independently of the code under test.
"""

import math

import numpy as np
import pytest
import torch
from conftest import FIXTURES, own_paths, shared_paths, when_shared
from csp_layout import OWN_FIXTURES

from geoloc_embed.config import LocationEncoderConfig, position_encoder_config
from geoloc_embed.encoders import build_position_encoder
from geoloc_embed.errors import ConfigError, CoordinateError

# (lon, lat) degrees, all exactly representable in float32: a generic point, lon = -180, lon = +180
# and the north pole.
POINTS = [(12.5, -33.25), (-180.0, 45.5), (180.0, -60.5), (77.75, 90.0)]
D2R = math.pi / 180.0


def encode(family, points=POINTS, dtype=torch.float64, **fields):
    encoder = build_position_encoder(position_encoder_config(family, **fields))
    with torch.no_grad():
        out = encoder(torch.tensor(points, dtype=dtype))
    return encoder, out.double().numpy()


def omega(s, num, r_min, r_max):
    """omega_s = 1 / (r_min * (r_max / r_min) ** (s / (S - 1))) (csp-spec.md section 9)."""
    return 1.0 / (r_min * (r_max / r_min) ** (s / (num - 1)))


def check_both_dtypes(family, expected, atol32=2e-6, points=POINTS, **fields):
    """float64 input reproduces ``expected`` to ~1e-12, float32 input to float32 rounding."""
    encoder, out64 = encode(family, points, torch.float64, **fields)
    assert out64.shape == expected.shape
    assert encoder.out_dim == expected.shape[1]
    np.testing.assert_allclose(out64, expected, rtol=0, atol=1e-9)
    _, out32 = encode(family, points, torch.float32, **fields)
    np.testing.assert_allclose(out32, expected, rtol=0, atol=atol32)


# ----------------------------------------------------------------------------- theory
A_K = [(1.0, 0.0), (-0.5, math.sqrt(3.0) / 2.0), (-0.5, -math.sqrt(3.0) / 2.0)]


def theory_expected(points, num, r_min, r_max):
    rows = []
    for lon, lat in points:
        row = []
        for s in range(num):  # scale-major, then k, then (sin, cos)
            w = omega(s, num, r_min, r_max)
            for ax, ay in A_K:
                p = lon * ax + lat * ay
                row += [math.sin(p * w), math.cos(p * w)]
        rows.append(row)
    return np.array(rows)


def test_theory_values_and_layout():
    num, r_min, r_max = 4, 0.5, 360.0
    expected = theory_expected(POINTS, num, r_min, r_max)
    assert expected.shape == (4, 6 * num)
    check_both_dtypes("theory", expected, frequency_num=num, min_radius=r_min, max_radius=r_max)
    # Spot-check the layout literally: column 0 is sin(lon * w0), column 3 is cos(p2 * w0) and column 6
    # is sin(lon * w1).
    _, out = encode("theory", frequency_num=num, min_radius=r_min, max_radius=r_max)
    lon, lat = POINTS[0]
    assert out[0, 0] == pytest.approx(math.sin(lon / r_min), abs=1e-12)
    assert out[0, 3] == pytest.approx(math.cos((-0.5 * lon + math.sqrt(3) / 2 * lat) / r_min), abs=1e-12)
    w1 = 1.0 / (r_min * (r_max / r_min) ** (1 / 3))
    assert out[0, 6] == pytest.approx(math.sin(lon * w1), abs=1e-12)


def test_theory_default_dim():
    encoder = build_position_encoder(position_encoder_config("theory", frequency_num=64))
    assert encoder.out_dim == 384


# ----------------------------------------------------------------------------- sphere2vec
def sphere_terms(lon, lat, w):
    """Per-scale trig values: (sin/cos of lambda_s, phi_s) and of the plain lambda, phi."""
    lam, phi = lon * D2R, lat * D2R
    return dict(
        sls=math.sin(w * lam), cls=math.cos(w * lam), sps=math.sin(w * phi), cps=math.cos(w * phi),
        sl=math.sin(lam), cl=math.cos(lam), cp=math.cos(phi),
    )


def sphere_expected(family, points, num, r_min, r_max):
    rows = []
    for lon, lat in points:
        row = []
        for s in range(num):
            t = sphere_terms(lon, lat, omega(s, num, r_min, r_max))
            if family == "sphere-c":
                row += [t["sps"], t["cps"] * t["cls"], t["cps"] * t["sls"]]
            elif family == "sphere-c-plus":
                row += [t["sps"], t["cps"], t["sls"], t["cls"], t["cps"] * t["cls"], t["cps"] * t["sls"]]
            elif family == "sphere-m":
                row += [t["sps"], t["cps"] * t["cl"], t["cp"] * t["cls"], t["cps"] * t["sl"], t["cp"] * t["sls"]]
            elif family == "sphere-m-plus":
                row += [t["sps"], t["cps"], t["sls"], t["cls"],
                        t["cps"] * t["cl"], t["cp"] * t["cls"], t["cps"] * t["sl"], t["cp"] * t["sls"]]
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("family,per_scale", [("sphere-c", 3), ("sphere-c-plus", 6), ("sphere-m", 5),
                                              ("sphere-m-plus", 8)])
def test_sphere_values_and_layout(family, per_scale):
    num, r_min, r_max = 3, 0.05, 1.0
    expected = sphere_expected(family, POINTS, num, r_min, r_max)
    assert expected.shape == (4, per_scale * num)
    check_both_dtypes(family, expected, frequency_num=num, min_radius=r_min, max_radius=r_max)


def test_sphere_first_columns_literal():
    # sphereC column 0 is sin(phi * w0) with w0 = 1 / r_min, column 2 is cos(phi_0) sin(lambda_0),
    # column 3 starts scale 1.
    _, out = encode("sphere-c", frequency_num=3, min_radius=0.05, max_radius=1.0)
    lon, lat = POINTS[0]
    assert out[0, 0] == pytest.approx(math.sin(20.0 * lat * D2R), abs=1e-12)
    assert out[0, 2] == pytest.approx(math.cos(20.0 * lat * D2R) * math.sin(20.0 * lon * D2R), abs=1e-12)
    w1 = 1.0 / (0.05 * 20.0 ** 0.5)
    assert out[0, 3] == pytest.approx(math.sin(w1 * lat * D2R), abs=1e-12)
    # sphereM+ column 4 mixes the scaled latitude with the plain longitude.
    _, out = encode("sphere-m-plus", frequency_num=3, min_radius=0.05, max_radius=1.0)
    assert out[0, 4] == pytest.approx(math.cos(20.0 * lat * D2R) * math.cos(lon * D2R), abs=1e-12)
    assert out[0, 7] == pytest.approx(math.cos(lat * D2R) * math.sin(20.0 * lon * D2R), abs=1e-12)


def dfs_expected(points, num, r_min, r_max):
    rows = []
    for lon, lat in points:
        ws = [omega(s, num, r_min, r_max) for s in range(num)]
        u = []  # [sin lambda_0, cos lambda_0, sin lambda_1, ...]
        v = []  # [sin phi_0, cos phi_0, ...]
        for w in ws:
            u += [math.sin(w * lon * D2R), math.cos(w * lon * D2R)]
            v += [math.sin(w * lat * D2R), math.cos(w * lat * D2R)]
        row = [u[i] * v[j] for i in range(2 * num) for j in range(2 * num)]
        for s in range(num):
            row += [v[2 * s], v[2 * s + 1], u[2 * s], u[2 * s + 1]]
        rows.append(row)
    return np.array(rows)


def test_dfs_values_and_layout():
    num, r_min, r_max = 3, 0.05, 1.0
    expected = dfs_expected(POINTS, num, r_min, r_max)
    assert expected.shape == (4, 4 * num * num + 4 * num)
    check_both_dtypes("dfs", expected, frequency_num=num, min_radius=r_min, max_radius=r_max)
    _, out = encode("dfs", frequency_num=num, min_radius=r_min, max_radius=r_max)
    lon, lat = POINTS[0]
    # Column (2s + a) * 2S + (2t + b): s = 0 (w = 20), a = 1 (cos), t = 2 (w = 1), b = 0 (sin).
    col = (2 * 0 + 1) * 2 * num + (2 * 2 + 0)
    assert out[0, col] == pytest.approx(math.cos(20.0 * lon * D2R) * math.sin(lat * D2R), abs=1e-12)
    # The single terms follow the outer product: [sin phi_s, cos phi_s, sin lambda_s, cos lambda_s].
    assert out[0, 4 * num * num + 4 * 2 + 2] == pytest.approx(math.sin(lon * D2R), abs=1e-12)


@pytest.mark.parametrize("family,per_scale", [("sphere-c", 3), ("sphere-c-plus", 6), ("sphere-m", 5),
                                              ("sphere-m-plus", 8), ("theory", 6)])
def test_sphere_and_theory_dims(family, per_scale):
    encoder = build_position_encoder(position_encoder_config(family, frequency_num=64))
    assert encoder.out_dim == per_scale * 64


def test_dfs_dim():
    encoder = build_position_encoder(position_encoder_config("dfs", frequency_num=5))
    assert encoder.out_dim == 4 * 25 + 4 * 5
    assert encoder(torch.zeros(2, 2)).shape == (2, 120)


@pytest.mark.parametrize("family,r_min,r_max", [("theory", 1e-4, 360.0), ("sphere-c", 1e-4, 1.0),
                                                ("sphere-m-plus", 5e-4, 1.0), ("dfs", 1e-3, 1.0)])
def test_high_frequency_exactness_from_float32_input(family, r_min, r_max):
    """csp-spec.md section 9 item 1: phases in float64 from the float32-rounded input.

    With r_min = 1e-4 the phases reach ~1e4 rad (theory: ~2e6); computing them in float32 would be
    off by up to ~5e-2.
    """
    raw = [(-73.98765, 40.74321), (151.20931, -33.86785), (179.99991, 89.99993)]
    rounded = [tuple(float(np.float32(c)) for c in p) for p in raw]
    num = 6
    if family == "theory":
        expected = theory_expected(rounded, num, r_min, r_max)
    elif family == "dfs":
        expected = dfs_expected(rounded, num, r_min, r_max)
    else:
        expected = sphere_expected(family, rounded, num, r_min, r_max)
    _, out32 = encode(family, raw, torch.float32, frequency_num=num, min_radius=r_min, max_radius=r_max)
    np.testing.assert_allclose(out32, expected, rtol=0, atol=2e-6)


# ----------------------------------------------------------------------------- xyz, nerf
def xyz_of(lon, lat):
    lam, phi = lon * D2R, lat * D2R
    return (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))


def test_xyz_values():
    expected = np.array([xyz_of(lon, lat) for lon, lat in POINTS])
    check_both_dtypes("xyz", expected, atol32=1e-7)
    _, out = encode("xyz")
    np.testing.assert_allclose(out[3], [0.0, 0.0, 1.0], atol=1e-15)  # north pole
    np.testing.assert_allclose(out[1], out[1] * [1, -1, 1], atol=1e-15)  # lon -180: y = 0


def nerf_expected(points, levels):
    rows = []
    for lon, lat in points:
        xyz = xyz_of(lon, lat)
        freqs = [math.pi * 2.0 ** l for l in range(levels)]
        sins = [math.sin(c * f) for c in xyz for f in freqs]
        coss = [math.cos(c * f) for c in xyz for f in freqs]
        rows.append(sins + coss)
    return np.array(rows)


def test_nerf_values_and_layout():
    expected = nerf_expected(POINTS, 16)
    assert expected.shape == (4, 96)
    # TorchSpatial never forwards frequency_num to NeRF: the nerf config has no such field, 16 levels by default.
    check_both_dtypes("nerf", expected)
    with pytest.raises(ConfigError, match="frequency_num"):
        position_encoder_config("nerf", frequency_num=64)
    _, out = encode("nerf")
    x, y, z = xyz_of(*POINTS[0])
    assert out[0, 0] == pytest.approx(math.sin(math.pi * x), abs=1e-12)
    assert out[0, 16 + 3] == pytest.approx(math.sin(8 * math.pi * y), abs=1e-12)
    assert out[0, 48 + 32 + 15] == pytest.approx(math.cos(32768 * math.pi * z), abs=1e-9)


def test_nerf_levels_configurable():
    expected = nerf_expected(POINTS, 4)
    check_both_dtypes("nerf", expected, nerf_levels=4)


# ----------------------------------------------------------------------------- wrap
def test_wrap_values():
    expected = np.array([[math.sin(math.pi * lon / 180), math.sin(math.pi * lat / 90),
                          math.cos(math.pi * lon / 180), math.cos(math.pi * lat / 90)] for lon, lat in POINTS])
    check_both_dtypes("wrap", expected, atol32=5e-7)
    # The world extent is fixed (csp-spec.md section 9 item 12): wrap has no map_range to set.
    with pytest.raises(ConfigError, match="position encoder 'wrap' has no field.*'map_range'"):
        encode("wrap", map_range=(-162.0, -59.0, 20.0, 56.0))


# ----------------------------------------------------------------------------- rbf
def test_rbf_values_with_set_anchors():
    anchors = [(10.0, -30.0), (-179.0, 45.0), (179.5, -60.0)]
    sigma = 2.5
    config = position_encoder_config("rbf", num_anchors=3, rbf_kernel_size=sigma)
    encoder = build_position_encoder(config)
    encoder.set_anchors(np.array(anchors))
    expected = np.array([[math.exp(-((lon - alon) ** 2 + (lat - alat) ** 2) / (2 * sigma ** 2))
                          for alon, alat in anchors] for lon, lat in POINTS])
    for dtype, atol in ((torch.float64, 1e-12), (torch.float32, 1e-7)):
        out = encoder(torch.tensor(POINTS, dtype=dtype))
        assert out.dtype == dtype and out.shape == (4, 3)
        np.testing.assert_allclose(out.detach().double().numpy(), expected, rtol=1e-6, atol=atol)
    assert encoder.anchors.dtype == torch.float64
    np.testing.assert_array_equal(encoder.state_dict()["anchors"].numpy(), np.array(anchors))


def test_rbf_set_anchors_checks():
    encoder = build_position_encoder(position_encoder_config("rbf", num_anchors=3))
    with pytest.raises(CoordinateError, match="shape"):
        encoder.set_anchors(torch.zeros(4, 2))
    with pytest.raises(CoordinateError, match="shape"):
        encoder.set_anchors(torch.zeros(3, 3))
    with pytest.raises(CoordinateError, match="NaN"):
        encoder.set_anchors(torch.tensor([[0.0, 0.0], [float("nan"), 0.0], [1.0, 1.0]]))
    with pytest.raises(CoordinateError, match="lat"):
        encoder.set_anchors(torch.tensor([[0.0, 0.0], [10.0, 95.0], [1.0, 1.0]]))


def test_rbf_default_anchors_uniform_on_sphere():
    encoder = build_position_encoder(position_encoder_config("rbf", num_anchors=4000))
    anchors = encoder.anchors.numpy()
    assert anchors.shape == (4000, 2)
    assert (np.abs(anchors[:, 0]) <= 180).all() and (np.abs(anchors[:, 1]) <= 90).all()
    # Uniform on the sphere: P(|lat| < 30) = sin 30 = 0.5, and lon is uniform.
    assert abs(np.mean(np.abs(anchors[:, 1]) < 30.0) - 0.5) < 0.03
    assert abs(np.mean(anchors[:, 0] > 0) - 0.5) < 0.03
    again = build_position_encoder(position_encoder_config("rbf", num_anchors=4000))
    assert torch.equal(encoder.anchors, again.anchors)


# ----------------------------------------------------------------------------- rff
def rff_expected(points, map_range, dirvec, shift):
    lon_min, lon_max, lat_min, lat_max = map_range
    dirvec, shift = np.asarray(dirvec, dtype=np.float64), np.asarray(shift, dtype=np.float64)
    num = shift.shape[0]
    rows = []
    for lon, lat in points:
        x = 2.0 * (lon - lon_min) / (lon_max - lon_min) - 1.0  # no clipping
        y = 2.0 * (lat - lat_min) / (lat_max - lat_min) - 1.0
        rows.append([math.sqrt(2.0 / num) * math.cos(x * dirvec[0, j] + y * dirvec[1, j] + shift[j])
                     for j in range(num)])
    return np.array(rows)


def test_rff_values_outside_range_not_clipped():
    map_range = (-162.0, -59.0, 20.0, 56.0)
    dirvec = [[0.5, -1.25, 2.0], [1.5, 0.75, -0.25]]
    shift = [0.0, 1.0, 6.0]
    encoder = build_position_encoder(position_encoder_config("rff", frequency_num=3,
                                                           map_range=map_range))
    encoder.load_state_dict({"dirvec": torch.tensor(dirvec), "shift": torch.tensor(shift)})
    points = POINTS + [(-100.0, 30.0)]  # all but the last lie outside map_range
    expected = rff_expected(points, map_range, dirvec, shift)
    for dtype, atol in ((torch.float64, 1e-12), (torch.float32, 2e-6)):
        out = encoder(torch.tensor(points, dtype=dtype))
        assert out.dtype == dtype and out.shape == (5, 3)
        np.testing.assert_allclose(out.detach().double().numpy(), expected, rtol=0, atol=atol)
    # A point two map widths east of the box maps to x' = 3: check that it was not clipped to 1.
    far = rff_expected([(-59.0 + 103.0, 56.0)], map_range, dirvec, shift)
    out = encoder(torch.tensor([[44.0, 56.0]], dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(out, far, atol=1e-12)


def test_rff_default_buffers():
    config = position_encoder_config("rff", frequency_num=4096, rff_sigma=2.0)
    encoder = build_position_encoder(config)
    assert set(encoder.state_dict()) == {"dirvec", "shift"}
    assert encoder.dirvec.shape == (2, 4096) and encoder.dirvec.dtype == torch.float32
    assert encoder.shift.shape == (4096,) and encoder.shift.dtype == torch.float32
    assert abs(encoder.dirvec.std().item() - 2.0) < 0.1 and abs(encoder.dirvec.mean().item()) < 0.1
    assert 0.0 <= encoder.shift.min().item() and encoder.shift.max().item() <= 2 * math.pi
    assert abs(encoder.shift.mean().item() - math.pi) < 0.1
    again = build_position_encoder(config)
    assert torch.equal(encoder.dirvec, again.dirvec) and torch.equal(encoder.shift, again.shift)


@pytest.mark.parametrize("path", own_paths("rff__") + shared_paths(
    "torchspatial", ["rff__model_fmow_rff_inception_v3_0.0050_64_0.0000010_1_512_2.0.pth.tar"]))
def test_rff_torchspatial_checkpoint_buffers(path):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state, params = checkpoint["state_dict"], checkpoint["params"]
    dirvec = state["spa_enc.position_encoder.dirvec"]
    shift = state["spa_enc.position_encoder.shift"]
    config = position_encoder_config("rff", frequency_num=params["frequency_num"],
                                   map_range=tuple(float(v) for v in params["map_range"]),
                                   rff_sigma=float(params["rbf_kernel_size"]))
    encoder = build_position_encoder(config)
    assert encoder.out_dim == state["spa_enc.ffn.layers.0.linear.weight"].shape[1]
    encoder.load_state_dict({"dirvec": dirvec, "shift": shift})
    expected = rff_expected(POINTS, params["map_range"], dirvec.numpy(), shift.numpy())
    out = encoder(torch.tensor(POINTS)).detach().double().numpy()
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6)


# ----------------------------------------------------------------------------- tile
def test_tile_row_major_index_and_clipping():
    size = 30.0
    config = position_encoder_config("tile", tile_size=size, tile_embed_dim=2)
    encoder = build_position_encoder(config)
    cols, rows = 12, 6  # 360 / 30, 180 / 30
    assert encoder.embedding.weight.shape == (cols * rows, 2)
    with torch.no_grad():
        encoder.embedding.weight.copy_(torch.stack((torch.arange(72.0), -torch.arange(72.0)), dim=-1))
    points = POINTS + [(200.0, -95.0), (-179.9, -89.9)]
    expected = []
    for lon, lat in points:
        col = min(max(math.floor((lon + 180.0) / size), 0), cols - 1)
        row = min(max(math.floor((lat + 90.0) / size), 0), rows - 1)
        expected.append(row * cols + col)
    assert expected == [18, 48, 11, 68, 11, 0]
    for dtype in (torch.float32, torch.float64):
        out = encoder(torch.tensor(points, dtype=dtype))
        assert out.dtype == dtype and out.shape == (6, 2)
        np.testing.assert_array_equal(out[:, 0].detach().numpy(), expected)
        np.testing.assert_array_equal(out[:, 1].detach().numpy(), [-e for e in expected])


def test_tile_regional_grid_and_default_dim():
    config = position_encoder_config("tile", tile_size=10.0, map_range=(-162.0, -59.0, 20.0, 56.0))
    encoder = build_position_encoder(config)
    assert (encoder.num_rows, encoder.num_cols) == (4, 11)  # ceil(36 / 10), ceil(103 / 10)
    assert encoder.out_dim == 256 and encoder.embedding.weight.shape == (44, 256)
    assert set(encoder.state_dict()) == {"embedding.weight"}


def test_tile_refuses_huge_tables():
    with pytest.raises(ConfigError, match="tile_size"):
        build_position_encoder(position_encoder_config("tile", tile_size=0.01))


@pytest.mark.parametrize("path", own_paths("tile__") + shared_paths(
    "torchspatial", ["tile__model_fmow_tile_ffn_inception_v3_0.00182000_32_0.0000026_1_512_leakyrelu.pth.tar"]))
def test_tile_torchspatial_single_cell_checkpoint(path):
    """TorchSpatial's tile_ffn defect: a one-cell table, every location gets the same embedding."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state, params = checkpoint["state_dict"], checkpoint["params"]
    table = state["spa_enc.position_encoder.embedding.weight"]
    assert table.shape[0] == 1
    assert state["spa_enc.ffn.layers.0.linear.weight"].shape[1] == table.shape[1]
    lon_min, lon_max, lat_min, lat_max = (float(v) for v in params["map_range"])
    config = position_encoder_config("tile", map_range=(lon_min, lon_max, lat_min, lat_max),
                                   tile_size=max(lon_max - lon_min, lat_max - lat_min),
                                   tile_embed_dim=table.shape[1])
    encoder = build_position_encoder(config)
    encoder.load_state_dict({"embedding.weight": table})
    out = encoder(torch.tensor(POINTS)).detach()
    for row in out:
        assert torch.equal(row, table[0])


# ----------------------------------------------------------------------------- all families
SMOOTH_LOW_FREQUENCY = {
    # Low frequencies so that finite differences are accurate (gradcheck's eps is 1e-6 degrees).
    "theory": dict(frequency_num=3, min_radius=10.0, max_radius=360.0),
    "sphere-c": dict(frequency_num=3, min_radius=0.25, max_radius=1.0),
    "sphere-c-plus": dict(frequency_num=3, min_radius=0.25, max_radius=1.0),
    "sphere-m": dict(frequency_num=3, min_radius=0.25, max_radius=1.0),
    "sphere-m-plus": dict(frequency_num=3, min_radius=0.25, max_radius=1.0),
    "dfs": dict(frequency_num=3, min_radius=0.25, max_radius=1.0),
    "xyz": {},
    "nerf": dict(nerf_levels=3),
    "wrap": {},
    "rbf": dict(num_anchors=16, rbf_kernel_size=30.0),
    "rff": dict(frequency_num=8),
}


@pytest.mark.parametrize("family", sorted(SMOOTH_LOW_FREQUENCY))
def test_gradcheck(family):
    encoder = build_position_encoder(position_encoder_config(family, **SMOOTH_LOW_FREQUENCY[family]))
    x = torch.tensor([[12.5, -33.25], [-120.0, 45.5], [100.0, 10.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(encoder, (x,), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("directory", [OWN_FIXTURES] + when_shared([FIXTURES / "torchspatial"]),
                         ids=lambda d: "own" if d == OWN_FIXTURES else "real")
def test_out_dims_match_torchspatial_checkpoints(directory):
    """The first FFN layer of each TorchSpatial checkpoint (own fixtures, real ones) takes our out_dim features."""
    families = {"Space2Vec-theory": "theory", "Sphere2Vec-sphereC": "sphere-c",
                "Sphere2Vec-sphereC+": "sphere-c-plus", "Sphere2Vec-sphereM": "sphere-m", "NeRF": "nerf",
                "xyz": "xyz", "wrap_ffn": "wrap", "rff": "rff"}
    checked = 0
    for path in sorted(directory.glob("*.pth.tar")):
        if path.name.startswith(("rbf__", "tile__")):
            continue  # rbf needs an allow-list and its anchors; tile is checked above
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        params = checkpoint["params"]
        if params["spa_enc_type"] not in families:
            continue
        # the flat params read as a format-1 config: only the fields the family uses are kept
        config = LocationEncoderConfig.from_dict({"position_encoder": families[params["spa_enc_type"]],
                                                  "frequency_num": params["frequency_num"],
                                                  "min_radius": params["min_radius"],
                                                  "max_radius": params["max_radius"]})
        encoder = build_position_encoder(config.position_encoder)
        assert encoder.out_dim == checkpoint["state_dict"]["spa_enc.ffn.layers.0.linear.weight"].shape[1], path.name
        checked += 1
    assert checked >= 8  # own: theory, sphereC, sphereC+, sphereM, NeRF, xyz, wrap_ffn, rff
