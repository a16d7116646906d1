"""Distributions of the negative-location samplers."""

import math

import pytest
import torch

from geoloc_embed.trainer.samplers import (
    BoundingBoxSampler,
    DataDistributionSampler,
    build_negative_sampler,
    sample_sphericalold,
    sample_uniform_sphere,
)

N = 200_000


def test_uniform_sphere_distribution():
    x = sample_uniform_sphere(N, generator=torch.Generator().manual_seed(0))
    assert x.shape == (N, 2) and x.dtype == torch.float32
    lon, lat = x[:, 0].double(), x[:, 1].double()
    assert lon.min() >= -180 and lon.max() <= 180 and lat.min() >= -90 and lat.max() <= 90
    s = torch.sin(torch.deg2rad(lat))
    assert abs(float(s.mean())) < 0.01              # E[sin lat] = 0
    assert float(s.var()) == pytest.approx(1 / 3, abs=0.01)  # sin lat ~ U(-1, 1)
    assert float((lat.abs() < 30).double().mean()) == pytest.approx(0.5, abs=0.01)
    assert float((lon < 0).double().mean()) == pytest.approx(0.5, abs=0.01)
    # area fraction of the polar caps above 60 deg: (1 - sin 60) = 0.134
    assert float((lat.abs() > 60).double().mean()) == pytest.approx(1 - math.sin(math.radians(60)), abs=0.01)


def test_sphericalold_stays_in_ellipse_and_matches_the_authors_density():
    x = sample_sphericalold(N, generator=torch.Generator().manual_seed(1)).double()
    rho2 = (x[:, 0] / 180) ** 2 + (x[:, 1] / 90) ** 2
    assert float(rho2.max()) <= 1.0 + 1e-6
    # rho = sqrt(1 - a^2) with a ~ U(-1, 1): P(rho < 0.5) = 1 - sqrt(0.75)
    assert float((rho2 < 0.25).double().mean()) == pytest.approx(1 - math.sqrt(0.75), abs=0.01)
    # theta uniform: each quadrant a quarter
    q = ((x[:, 0] > 0) & (x[:, 1] > 0)).double().mean()
    assert float(q) == pytest.approx(0.25, abs=0.01)
    # biased compared with uniform (0.134): many more negatives beyond |lat| > 60, none in the corners
    assert float((x[:, 1].abs() > 60).double().mean()) > 0.25
    assert not ((x[:, 0].abs() > 150) & (x[:, 1].abs() > 60)).any()


def test_samplers_are_reproducible_from_the_generator():
    for name in ("uniform", "sphericalold", "plate"):
        s = build_negative_sampler(name)
        a = s(100, torch.Generator().manual_seed(5))
        b = s(100, torch.Generator().manual_seed(5))
        assert torch.equal(a, b)
        assert not torch.equal(a, s(100, torch.Generator().manual_seed(6)))


def test_bbox_sampler_is_area_uniform_inside_the_box():
    s = BoundingBoxSampler((-10.0, 30.0, 0.0, 60.0))
    x = s(N, torch.Generator().manual_seed(2)).double()
    assert x[:, 0].min() >= -10 and x[:, 0].max() <= 30 and x[:, 1].min() >= 0 and x[:, 1].max() <= 60
    frac = float((x[:, 1] < 30).double().mean())
    assert frac == pytest.approx(math.sin(math.radians(30)) / math.sin(math.radians(60)), abs=0.01)
    wrap = BoundingBoxSampler((170.0, -170.0, -5.0, 5.0))(1000, torch.Generator().manual_seed(0))
    assert ((wrap[:, 0] >= 170) | (wrap[:, 0] <= -170)).all()
    with pytest.raises(ValueError):
        BoundingBoxSampler((0, 10, 50, 20))


def test_data_distribution_sampler():
    locs = torch.tensor([[10.0, 20.0], [-50.0, -30.0], [float("nan"), 0.0]])
    s = DataDistributionSampler(locs)
    x = s(1000, torch.Generator().manual_seed(0))
    assert set(map(tuple, x.tolist())) == {(10.0, 20.0), (-50.0, -30.0)}
    j = DataDistributionSampler(torch.tensor([[179.9, 89.9]]), jitter=1.0)(5000, torch.Generator().manual_seed(0))
    assert j[:, 0].min() >= -180 and j[:, 0].max() < 180 and j[:, 1].abs().max() <= 90
    assert float(j.std(0).min()) > 0.3
    with pytest.raises(ValueError):
        build_negative_sampler("data")
    with pytest.raises(ValueError):
        build_negative_sampler("spherical")
