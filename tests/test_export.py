"""TorchScript and ONNX export (geoloc_embed.export): every family, against eager mode."""

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed.errors import GeolocEmbedError
from geoloc_embed.export import probe_points, to_onnx, to_torchscript

FAMILIES = ge.list_position_encoders()

#: Small but representative configs (the sphere* families use their usual radian scales).
_SPHERE = {"min_radius": 0.001, "max_radius": 1.0}
_OVERRIDES = {
    "sphere-c": _SPHERE, "sphere-c-plus": _SPHERE, "sphere-m": _SPHERE, "sphere-m-plus": _SPHERE,
    "dfs": {**_SPHERE, "frequency_num": 4},
    "rbf": {"num_anchors": 32},
    "rff": {"frequency_num": 32},
    "tile": {"tile_size": 10.0, "tile_embed_dim": 16},
    "spherical-harmonics": {"sh_degree": 10},
    "nerf": {"nerf_levels": 16},
}


def small_model(family: str, **extra) -> ge.LocationEncoder:
    torch.manual_seed(0)
    config = ge.LocationEncoderConfig(position_encoder=family).replace(hidden_dim=32, embed_dim=16, num_hidden_layers=1)
    if "frequency_num" in config.position_encoder.field_names():
        config = config.replace(frequency_num=8)
    config = config.replace(**{**_OVERRIDES.get(family, {}), **extra})
    return ge.LocationEncoder(config).eval()


def eager(model, points):
    with torch.no_grad():
        return model(points).numpy()


def test_probe_points_cover_poles_and_antimeridian():
    points = probe_points(64)
    assert points.shape == (64, 2) and points.dtype == torch.float32
    rows = {tuple(p) for p in points.tolist()}
    for corner in [(-180.0, -90.0), (180.0, 90.0), (-180.0, 0.0), (180.0, 0.0), (0.0, 90.0), (0.0, -90.0)]:
        assert corner in rows
    assert points[:, 0].abs().max() <= 180 and points[:, 1].abs().max() <= 90


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_matches_eager_with_dynamic_batch(family, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = small_model(family)
    path = to_onnx(model, tmp_path / f"{family}.onnx", verify=False)  # the test does its own check
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["lonlat"]
    assert [o.name for o in session.get_outputs()] == ["embedding"]
    for points in (probe_points(64), probe_points(8, seed=3)[:3]):  # two batch sizes: the batch is dynamic
        (got,) = session.run(None, {"lonlat": points.numpy()})
        want = eager(model, points)
        assert got.shape == want.shape == (points.shape[0], model.embed_dim)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=family)


# torch 2.13 deprecates torch.jit.load, but loading the file is exactly what deployment code does.
@pytest.mark.filterwarnings("ignore:.*torch.jit.load.*:DeprecationWarning")
@pytest.mark.parametrize("family", FAMILIES)
def test_torchscript_round_trip(family, tmp_path):
    model = small_model(family)
    path = tmp_path / f"{family}.pt"
    traced = to_torchscript(model, path)
    loaded = torch.jit.load(str(path))
    for points in (probe_points(64, seed=4), probe_points(8, seed=5)[:5]):
        want = eager(model, points)
        with torch.no_grad():
            np.testing.assert_allclose(traced(points).numpy(), want, rtol=0, atol=1e-6, err_msg=family)
            np.testing.assert_allclose(loaded(points).numpy(), want, rtol=0, atol=1e-6, err_msg=family)
    assert not list(tmp_path.glob(".*.tmp"))


def test_torchscript_casts_float64_input_to_the_model_dtype():
    model = small_model("grid")
    traced = to_torchscript(model)
    points = probe_points(16)
    with torch.no_grad():
        out = traced(points.double())
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), eager(model, points), rtol=0, atol=1e-6)


def test_export_leaves_model_modes_unchanged(tmp_path):
    pytest.importorskip("onnx")
    model = small_model("grid").train()
    model.network.layers[0].eval()  # a mixed state must come back exactly
    before = [m.training for m in model.modules()]
    to_torchscript(model)
    to_onnx(model, tmp_path / "m.onnx", verify=False)
    assert [m.training for m in model.modules()] == before


def test_onnx_class_head_logits_output_and_metadata(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    model = small_model("grid", num_classes=7)
    path = to_onnx(model, tmp_path / "head.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["embedding", "logits"]
    points = probe_points(20)
    embedding, logits = session.run(None, {"lonlat": points.numpy()})
    with torch.no_grad():
        want_emb = model(points)
        want_logits = model.class_logits(want_emb)
    np.testing.assert_allclose(embedding, want_emb.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(logits, want_logits.numpy(), rtol=0, atol=1e-5)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert ge.LocationEncoderConfig.from_json(props["geoloc_embed.config"]) == model.config
    assert props["geoloc_embed.version"] == ge.__version__
    assert '"columns": ["lon", "lat"]' in props["geoloc_embed.input"]

    traced = to_torchscript(model)
    _, got_logits = traced(points)
    np.testing.assert_allclose(got_logits.detach().numpy(), want_logits.numpy(), rtol=0, atol=1e-6)
    with pytest.raises(GeolocEmbedError, match="no class head"):
        to_onnx(small_model("grid"), tmp_path / "x.onnx", with_logits=True)


def test_onnx_static_batch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = small_model("wrap")
    path = to_onnx(model, tmp_path / "static.onnx", dynamic_batch=False, batch_size=4)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [4, 2]
    points = probe_points(8)[:4]
    np.testing.assert_allclose(session.run(None, {"lonlat": points.numpy()})[0], eager(model, points),
                               rtol=0, atol=1e-5)


def test_failed_verification_writes_nothing(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from geoloc_embed import export

    monkeypatch.setattr(export, "_ONNX_TOL", -1.0)  # every file now "differs"
    target = tmp_path / "bad.onnx"
    with pytest.raises(GeolocEmbedError, match="nothing was written"):
        to_onnx(small_model("grid"), target)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_rejects_non_models(tmp_path):
    with pytest.raises(TypeError, match="LocationEncoder"):
        to_torchscript(torch.nn.Linear(2, 3))


@pytest.mark.slow
@pytest.mark.parametrize("family", ["grid", "nerf", "wrap"])
def test_dynamo_exporter_is_exact_or_refused(family, tmp_path):
    """The torch.export-based exporter must never leave a silently imprecise file behind."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = small_model(family)
    target = tmp_path / "dynamo.onnx"
    try:
        to_onnx(model, target, dynamo=True, opset=18)
    except GeolocEmbedError as exc:
        assert "nothing was written" in str(exc)
        assert not target.exists()
        return
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    for points in (probe_points(64), probe_points(8)[:3]):
        np.testing.assert_allclose(session.run(None, {"lonlat": points.numpy()})[0], eager(model, points),
                                   rtol=0, atol=1e-5)
