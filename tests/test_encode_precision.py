"""Reduced precision in ``encode``: bfloat16 compute on the CPU (accuracy bound), float16 output storage.

Speed is measured in ``benchmarks/encode_throughput.py --precision``, never asserted here.
"""

import warnings

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed.encoders.precision import PrecisionWarning, native_reduced_precision


def _points() -> np.ndarray:
    """10,000 points: uniform on the sphere plus the poles, the antimeridian (+-180) and the origin."""
    rng = np.random.default_rng(0)
    lon = rng.uniform(-180.0, 180.0, 10_000)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, 10_000)))
    special = np.array([[180.0, 90.0], [-180.0, -90.0], [180.0, 0.0], [-180.0, 0.0], [0.0, 90.0], [0.0, -90.0],
                        [179.9999, 89.9999], [-179.9999, -89.9999], [0.0, 0.0], [180.0, 45.0], [-180.0, -45.0]])
    points = np.stack([lon, lat], axis=1)
    points[:len(special)] = special
    return points


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


@pytest.fixture(scope="module")
def default_model():
    return ge.LocationEncoder.from_pretrained(ge.DEFAULT_MODEL)


def test_bfloat16_on_cpu_accuracy_bound(default_model):
    points = _points()
    reference = default_model.encode(points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)  # emulated on CPUs without AVX512-BF16/AMX
        bf16 = default_model.encode(points, dtype=torch.bfloat16)
    assert bf16.dtype == np.float32 and bf16.shape == reference.shape
    assert np.isfinite(bf16).all()
    cosine = _min_cosine(bf16, reference)
    assert cosine >= 0.999, cosine  # measured 0.99979 on the bundled model (bf16 has 8 significant bits)
    assert not np.array_equal(bf16, reference)  # it did compute in bfloat16
    assert default_model.dtype == torch.float32  # the caller's model is untouched


def test_bfloat16_warns_where_the_cpu_emulates_it(default_model, monkeypatch):
    import geoloc_embed.encoders.precision as precision

    monkeypatch.setattr(precision, "native_reduced_precision", lambda device_type, dtype: False)
    with pytest.warns(PrecisionWarning, match="slower than the float32 default"):
        default_model.encode(_points()[:10], dtype=torch.bfloat16)
    monkeypatch.setattr(precision, "native_reduced_precision", lambda device_type, dtype: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        default_model.encode(_points()[:10], dtype=torch.bfloat16)


def test_native_check_matches_onednn():
    expected = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert native_reduced_precision("cpu", torch.bfloat16) == expected
    assert native_reduced_precision("cuda", torch.bfloat16)


def test_float16_output_is_the_float32_result_rounded(default_model):
    points = _points()
    reference = default_model.encode(points)
    half = default_model.encode(points, out_dtype=np.float16, batch_size=3000)
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, reference.astype(np.float16))
    into = np.empty(reference.shape, dtype=np.float16)
    assert default_model.encode(points, out=into) is into
    np.testing.assert_array_equal(into, half)
    strided = np.empty((reference.shape[1], len(points)), dtype=np.float16).T  # not C-contiguous: numpy fallback
    default_model.encode(points, out=strided)
    np.testing.assert_array_equal(strided, half)
    assert default_model.encode(points[:5], out_dtype=torch.float16).dtype == np.float16
    assert default_model.encode(points[:5], out_dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(default_model.encode(points[:5], out_dtype=np.float64),
                                  default_model.encode(points[:5]).astype(np.float64))  # same shapes, same rounding


def test_output_dtype_errors(default_model):
    with pytest.raises(ValueError, match="out_dtype must be np.float16"):
        default_model.encode(_points()[:5], out_dtype=np.int32)
    with pytest.raises(ValueError, match="out_dtype must be np.float16"):
        default_model.encode(_points()[:5], out_dtype="bfloat16")
    with pytest.raises(ValueError, match="out has dtype float32 but out_dtype=float16"):
        default_model.encode(_points()[:5], out=np.empty((5, default_model.embed_dim), np.float32),
                             out_dtype=np.float16)
