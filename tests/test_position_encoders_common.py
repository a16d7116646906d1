"""Properties every registered position encoder family must have (parametrised over the registry).

A family added later is covered automatically. Where a family by design lacks a property (continuity
across the antimeridian, an input gradient), the test asserts the documented behaviour instead, with
the reason next to the exception, so that it can still fail.
"""

import time

import pytest
import torch

from geoloc_embed import LocationEncoderConfig
from geoloc_embed.encoders import LocationEncoder, build_position_encoder, list_position_encoders

FAMILIES = list_position_encoders()

#: Config changes per family that keep the tests fast (the default 1-degree tile grid has 64,800 cells).
FAST = {
    "tile": dict(tile_size=10.0),
    "dfs": dict(frequency_num=8),
}

#: State-dict keys of each family: only tensors that cannot be recomputed from the config.
#: A family missing here gets the generic check only (no float64 constant in the state dict).
EXPECTED_STATE_KEYS = {
    "grid": set(), "theory": set(), "sphere-c": set(), "sphere-c-plus": set(), "sphere-m": set(),
    "sphere-m-plus": set(), "dfs": set(), "xyz": set(), "nerf": set(), "wrap": set(),
    "rbf": {"anchors"}, "rff": {"dirvec", "shift"}, "tile": {"embedding.weight"},
}

#: Families whose features are not the same at lon = -180 and lon = +180, by design:
NOT_ANTIMERIDIAN_CONTINUOUS = {
    # grid / theory: sin/cos of raw degrees times frequencies that are not multiples of 1/360
    # (CSP's lowest period is 2*pi*360 degrees), so -180 and 180 are different inputs.
    "grid": "planar sinusoids of raw degrees",
    "theory": "planar sinusoids of raw degrees",
    # rff: linear map of the min-max scaled plane (-1 and +1 are opposite edges), random directions.
    "rff": "random Fourier features of the min-max scaled plane",
    # tile: cells of a plane grid; -180 falls in the first column and +180 in the last one.
    "tile": "plane grid cells",
    # rbf: Euclidean distance in the (lon, lat) degree plane, not on the sphere.
    "rbf": "Euclidean distance in the degree plane",
    # GeoCLIP: Equal Earth projection; lon = -180 and +180 are the left and right map edges.
    "equal-earth-rff": "Equal Earth map edges",
}

#: rbf's default 1-degree kernels are ~0 on the antimeridian (no anchor within a few degrees of most points
#: there), which would hide the jump: widen them so that the anchors near +-180 dominate.
ANTIMERIDIAN_JUMP_CONFIG = {"rbf": dict(rbf_kernel_size=30.0)}

#: For the multi-scale Sphere2Vec families the angles are w_s * lambda. They are continuous across the
#: antimeridian only when every w_s is an integer; with the published geometric frequencies (e.g.
#: w_s = 1000 ... 1) the odd terms differ between -180 and 180. Test them with w = 8, 4, 2, 1.
INTEGER_FREQUENCIES = dict(frequency_num=4, min_radius=0.125, max_radius=1.0)
ANTIMERIDIAN_CONFIG = {name: INTEGER_FREQUENCIES
                       for name in ("sphere-c", "sphere-c-plus", "sphere-m", "sphere-m-plus", "dfs")}


def config_for(family, **extra):
    """``family`` with its defaults, FAST and ``extra`` routed to the position encoder or the network."""
    return LocationEncoderConfig(position_encoder=family).replace(**{**FAST.get(family, {}), **extra})


def build(family, seed=None, **extra):
    if seed is not None:
        torch.manual_seed(seed)
    return build_position_encoder(config_for(family, **extra).position_encoder)


def has_parameters(encoder):
    return any(True for _ in encoder.parameters())


def sample_points(n=64, seed=0):
    """Uniform on the sphere, plus poles and antimeridian points; (n + 6, 2) float64 [lon, lat]."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 2, dtype=torch.float64, generator=g)
    lon = 360.0 * u[:, 0] - 180.0
    lat = torch.rad2deg(torch.asin(2.0 * u[:, 1] - 1.0))
    special = torch.tensor([[0.0, 90.0], [0.0, -90.0], [-180.0, 0.0], [180.0, 0.0], [180.0, 90.0],
                            [-180.0, -90.0]], dtype=torch.float64)
    return torch.cat((torch.stack((lon, lat), dim=-1), special))


def feature_scale(out):
    return max(out.abs().max().item(), 1e-6)


@pytest.fixture(params=FAMILIES)
def family(request):
    return request.param


def test_registry_names_are_kebab_case(family):
    assert family == family.lower() and " " not in family and "_" not in family


def test_shape_and_dtype(family):
    encoder = build(family)
    assert isinstance(encoder.out_dim, int) and encoder.out_dim > 0
    x = sample_points()
    for dtype in (torch.float32, torch.float64):
        out = encoder(x.to(dtype))
        assert out.shape == (x.shape[0], encoder.out_dim)
        assert out.dtype == dtype


def test_float32_agrees_with_float64(family):
    encoder = build(family)
    x32 = sample_points().float()
    with torch.no_grad():
        out32 = encoder(x32).double()
        out64 = encoder(x32.double())  # the same (float32-representable) points, computed in float64
    torch.testing.assert_close(out32, out64, rtol=0, atol=1e-4 * feature_scale(out64))


def test_finite_at_poles_and_antimeridian(family):
    encoder = build(family)
    corners = torch.tensor([[lon, lat] for lon in (-180.0, 0.0, 180.0) for lat in (-90.0, 0.0, 90.0)])
    for dtype in (torch.float32, torch.float64):
        with torch.no_grad():
            out = encoder(corners.to(dtype))
        assert torch.isfinite(out).all()


def test_antimeridian_continuity(family):
    """Features agree at lon = -180 and +180, except for the documented planar families, which jump there."""
    lat = torch.tensor([-90.0, -63.5, -10.25, 0.0, 33.3, 71.0, 90.0], dtype=torch.float64)
    west = torch.stack((torch.full_like(lat, -180.0), lat), dim=-1)
    east = torch.stack((torch.full_like(lat, 180.0), lat), dim=-1)
    if family in NOT_ANTIMERIDIAN_CONTINUOUS:
        # -180 and +180 are different inputs for them (see the reasons above): at every latitude, some
        # feature differs by at least a tenth of the feature scale (measured: 0.4 to 1 of it).
        encoder = build(family, **ANTIMERIDIAN_JUMP_CONFIG.get(family, {}))
        with torch.no_grad():
            out_w, out_e = encoder(west), encoder(east)
        jump = (out_w - out_e).abs().max(dim=1).values
        assert (jump > 0.1 * feature_scale(out_e)).all(), (
            f"{family} is documented as discontinuous at the antimeridian "
            f"({NOT_ANTIMERIDIAN_CONTINUOUS[family]}) but -180 and +180 give nearly the same features: {jump}")
        return
    encoder = build(family, **ANTIMERIDIAN_CONFIG.get(family, {}))
    for dtype, tol in ((torch.float64, 1e-8), (torch.float32, 1e-5)):
        with torch.no_grad():
            out_w, out_e = encoder(west.to(dtype)), encoder(east.to(dtype))
        torch.testing.assert_close(out_w, out_e, rtol=0, atol=tol * feature_scale(out_e))


def test_gradients_flow_to_input(family):
    encoder = build(family)
    x = torch.tensor([[12.5, -33.25], [-120.0, 45.5], [100.0, 10.0], [-3.0, 60.0]], requires_grad=True)
    out = encoder(x)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    if family == "tile":
        # a table lookup: piecewise constant, so (as documented) no gradient reaches the coordinates,
        # while the looked-up rows of the table do get one (the table is what trains)
        assert x.grad is None or not x.grad.any()
        table_grad = encoder.embedding.weight.grad
        assert table_grad is not None and int((table_grad.abs().sum(dim=1) > 0).sum()) == len(x)
        return
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(dim=0) > 0).all(), "both lon and lat should influence the features"


def test_state_dict_holds_only_intended_tensors(family):
    encoder = build(family)
    keys = set(encoder.state_dict())
    float64_constants = set(getattr(encoder, "_float64_masters", {}))
    assert not keys & float64_constants, "frequency/projection constants are recomputed from the config"
    if family in EXPECTED_STATE_KEYS:
        assert keys == EXPECTED_STATE_KEYS[family]


def test_half_and_double_keep_float64_constants(family):
    reference = build(family, seed=0)
    x = sample_points()
    with torch.no_grad():
        ref32, ref64 = reference(x.float()), reference(x)
    masters = {name: getattr(reference, name).clone() for name in getattr(reference, "_float64_masters", {})}

    encoder = build(family, seed=0).half()
    for name, value in masters.items():
        assert getattr(encoder, name).dtype == torch.float64, name
        assert torch.equal(getattr(encoder, name), value), name
    if not has_parameters(encoder):  # learned tables are legitimately rounded by .half()
        with torch.no_grad():
            torch.testing.assert_close(encoder(x.float()), ref32, rtol=0, atol=1e-6 * feature_scale(ref32))

    encoder = build(family, seed=0).to(torch.float64)
    for name, value in masters.items():
        assert getattr(encoder, name).dtype == torch.float64, name
        assert torch.equal(getattr(encoder, name), value), name
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), ref64, rtol=0, atol=1e-12 * feature_scale(ref64))


def test_fresh_instances_agree(family):
    rng_before = torch.get_rng_state()
    first = build(family)
    second = build(family)
    parametrised = has_parameters(first)
    if not parametrised:
        # Fixed random tensors (rbf anchors, rff directions) come from a private seeded generator.
        assert torch.equal(torch.get_rng_state(), rng_before), "building must not consume the global RNG"
        second_state = second.state_dict()
        for key, value in first.state_dict().items():
            assert torch.equal(value, second_state[key]), key
    else:
        # Learned tables (tile) are initialised from the global RNG like any nn.Module: seed it.
        first, second = build(family, seed=123), build(family, seed=123)
    x = sample_points()
    with torch.no_grad():
        assert torch.equal(first(x.float()), second(x.float()))
        assert torch.equal(first(x), second(x))


def test_location_encoder_accepts_features(family):
    config = config_for(family, hidden_dim=16, embed_dim=8)
    if family == "equal-earth-rff":
        config = config.replace(network="mlp", hidden_dim=16, num_hidden_layers=1, activation="relu", dropout=0.0)
    model = LocationEncoder(config).eval()
    with torch.no_grad():
        out = model(sample_points().float())
    assert out.shape == (70, model.embed_dim)
    assert torch.isfinite(out).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_for_every_family():
    # one test over all families (one skip without CUDA); every family's mismatch is reported
    failures = []
    for family in FAMILIES:
        encoder = build(family, seed=0)
        x = sample_points()
        with torch.no_grad():
            cpu32, cpu64 = encoder(x.float()), encoder(x)
            encoder = encoder.cuda()
            gpu32, gpu64 = encoder(x.float().cuda()), encoder(x.cuda())
        try:
            assert gpu32.device.type == "cuda" and gpu32.dtype == torch.float32 and gpu64.dtype == torch.float64
            torch.testing.assert_close(gpu32.cpu(), cpu32, rtol=0, atol=1e-5 * feature_scale(cpu32))
            torch.testing.assert_close(gpu64.cpu(), cpu64, rtol=0, atol=1e-10 * feature_scale(cpu64))
        except AssertionError as exc:
            failures.append(f"{family}: {exc}")
    assert not failures, "\n".join(failures)


def _compile_and_compare(family, backend):
    encoder = build(family)
    compiled = torch.compile(encoder, backend=backend, dynamic=False)
    x = sample_points().float()
    start = time.perf_counter()
    with torch.no_grad():
        out = compiled(x)
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        torch.testing.assert_close(out, encoder(x), rtol=0, atol=1e-5)
    return elapsed


def test_torch_compile_smoke_aot_eager():
    # Tracing only (no C++ compiler involved): graph breaks or dynamo errors show up here, fast.
    _compile_and_compare("sphere-m-plus", "aot_eager")


@pytest.mark.slow
def test_torch_compile_smoke_inductor():
    # The default backend generates and compiles C++ (CPU) or Triton (GPU) code: tens of seconds.
    _compile_and_compare("sphere-m-plus", "inductor")
