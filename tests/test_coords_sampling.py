"""One uniform sampler: every caller in the package draws through geoloc_embed.coords.sample_uniform_sphere.

The sampler's distribution itself is tested in test_coords.py (and, for the trainer's use, in
test_trainer_samplers.py); here each caller must give exactly the points the one sampler gives
for the same seeded generator.
"""

import numpy as np
import pytest
import torch

from geoloc_embed import coords as C
from geoloc_embed.bench import data as bench_data
from geoloc_embed.bench.runner import SAMPLER_ID
from geoloc_embed.export import probe_points
from geoloc_embed.trainer import samplers as trainer_samplers
from geoloc_embed.trainer import synthetic


def _one(n, seed, dtype=torch.float32):
    return C.sample_uniform_sphere(n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_trainer_uses_the_one_sampler():
    assert trainer_samplers.sample_uniform_sphere is C.sample_uniform_sphere
    import geoloc_embed.trainer as trainer

    assert trainer.sample_uniform_sphere is C.sample_uniform_sphere  # public name kept
    negatives = trainer_samplers.build_negative_sampler("uniform")(500, torch.Generator().manual_seed(3))
    assert negatives.dtype == torch.float32 and torch.equal(negatives, _one(500, 3))


def test_trainer_sampler_stays_on_the_generators_device():
    gen = torch.Generator().manual_seed(0)
    out = trainer_samplers.UniformSphereSampler()(10, gen, device="meta")  # device only without a generator
    assert out.device.type == "cpu"
    assert trainer_samplers.UniformSphereSampler()(10, None, device="meta").device.type == "meta"


def test_bench_points_are_the_one_samplers_in_float64():
    for n, seed in ((1000, 0), (64, 2**62 + 5)):
        pts = bench_data.sample_uniform_sphere(n, seed=seed)
        assert isinstance(pts, np.ndarray) and pts.dtype == np.float64 and pts.shape == (n, 2)
        assert np.array_equal(pts, _one(n, seed, torch.float64).numpy())
    # the label cache must not serve points drawn by the old numpy PCG64 sampler
    assert SAMPLER_ID != "uniform-sphere-pcg64-v1"


def test_bench_xyz_is_the_coords_function():
    assert bench_data.lonlat_to_xyz is C.lonlat_to_xyz
    xyz = bench_data.lonlat_to_xyz(np.array([[90.0, 0.0], [0.0, 90.0]]))
    assert xyz.dtype == np.float64 and np.allclose(xyz, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], atol=1e-15)


def test_export_probes_are_fixed_points_then_the_one_sampler():
    for n, seed in ((64, 0), (20, 7)):
        pts = probe_points(n, seed=seed)
        assert pts.dtype == torch.float32 and pts.shape == (n, 2)
        assert torch.equal(pts[8:], _one(n - 8, seed, torch.float64).to(torch.float32))


def test_synthetic_data_centres_come_from_the_one_sampler():
    rng = np.random.default_rng(11)
    seed = int(np.random.default_rng(11).integers(0, 2**63))
    assert np.array_equal(synthetic._sphere(rng, 7), _one(7, seed, torch.float64).numpy())


def test_bench_validation_is_to_canonical_with_wrapping():
    from geoloc_embed.bench import tasks
    from geoloc_embed.errors import CoordinateError

    out = tasks._as_lonlat([[362.0, 10.0], [-190.0, -5.0], [180.0, 0.0]])
    assert out.dtype == np.float64 and out.tolist() == [[2.0, 10.0], [170.0, -5.0], [180.0, 0.0]]
    assert tasks._as_lonlat([2.35, 48.86]).shape == (1, 2)
    with pytest.raises(CoordinateError, match=r"latitude 120\.0 at row 0.*order='latlon'"):
        tasks._as_lonlat([[45.0, 120.0]])
    with pytest.raises(CoordinateError, match=r"non-finite.*row 1"):
        tasks._as_lonlat([[0.0, 0.0], [np.nan, 1.0]])
