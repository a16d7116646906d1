"""Tests for geoloc_embed.coords: input handling, validation, heuristics and geometry helpers.

Expected values are hand-computed or come from independent sources (published distances, the
Equal Earth and spherical Mercator formulas, pyproj's geodesic solver), never from the code
under test.
"""

import ast
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from geoloc_embed import coords as C
from geoloc_embed.errors import CoordinateError

R_KM = 6371.0088
PARIS = (2.3522, 48.8566)
LONDON = (-0.1276, 51.5072)

# (lat, lon) of twelve cities in eastern North America: mid-latitude data that, read as (lon, lat),
# lands in Antarctica.
EAST_NA_LATLON = np.array([
    [40.71, -74.01], [42.36, -71.06], [39.95, -75.17], [38.91, -77.04], [33.75, -84.39],
    [25.76, -80.19], [45.50, -73.57], [43.65, -79.38], [35.23, -80.84], [40.44, -79.99],
    [46.81, -71.21], [44.65, -63.58],
])


def assert_close(actual, expected, atol=1e-6, rtol=1e-6):
    """Like torch.testing.assert_close (whose first call imports torch.distributed: seconds)."""
    assert isinstance(actual, torch.Tensor) and actual.dtype == expected.dtype, (type(actual), actual.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert torch.allclose(actual, expected, atol=atol, rtol=rtol), (actual, expected)


# ----------------------------------------------------------------------------- input types
def test_list_tuple_ndarray_tensor_give_the_same_canonical_tensor():
    expected = torch.tensor([[2.5, 48.0], [-0.25, 51.5]], dtype=torch.float32)
    for value in ([[2.5, 48.0], [-0.25, 51.5]], ((2.5, 48.0), (-0.25, 51.5)),
                  np.array([[2.5, 48.0], [-0.25, 51.5]]), torch.tensor([[2.5, 48.0], [-0.25, 51.5]]),
                  [torch.tensor([2.5, 48.0]), torch.tensor([-0.25, 51.5])]):
        out = C.to_canonical(value)
        assert out.dtype == torch.float32 and out.shape == (2, 2)
        assert torch.equal(out, expected)


def test_latlon_order_is_swapped():
    out = C.to_canonical(np.array([[48.0, 2.5], [51.5, -0.25]]), order="latlon")
    assert torch.equal(out, torch.tensor([[2.5, 48.0], [-0.25, 51.5]]))
    assert torch.equal(C.to_canonical([10.0, 20.0], order="LatLon"), torch.tensor([[20.0, 10.0]]))


def test_single_point_and_empty_input():
    assert torch.equal(C.to_canonical((3.0, 4.0)), torch.tensor([[3.0, 4.0]]))
    for empty in ([], np.empty((0, 2)), torch.empty(0, 2, dtype=torch.float64)):
        out = C.to_canonical(empty, dtype=torch.float64)
        assert out.shape == (0, 2) and out.dtype == torch.float64


def test_dtype_device_and_no_aliasing():
    src = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    out = C.to_canonical(src, dtype=torch.float64)
    assert out.dtype == torch.float64 and out.device == src.device
    src[0, 0] = 99.0
    assert out[0, 0].item() == 1.0  # a new tensor, not a view of the input
    out = C.to_canonical(src, device="cpu")
    assert out.device == torch.device("cpu") and out.dtype == torch.float32
    precise = C.to_canonical(np.array([[0.1, 0.2]]), dtype=torch.float64)
    assert precise[0, 0].item() == 0.1 and precise[0, 1].item() == 0.2


def test_gradients_flow_through_to_canonical():
    x = torch.tensor([[10.0, 20.0], [200.0, -30.0]], requires_grad=True)
    C.to_canonical(x, order="lonlat", wrap=True).sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_stay_on_their_device():
    x = torch.tensor([[48.0, 2.5], [51.5, -0.25]], device="cuda")
    out = C.to_canonical(x, order="latlon")
    assert out.device.type == "cuda" and out.cpu().tolist() == [[2.5, 48.0], [-0.25, 51.5]]
    assert C.to_canonical(np.zeros((3, 2)), device="cuda").device.type == "cuda"
    gen = torch.Generator(device="cuda").manual_seed(0)
    pts = C.sample_uniform_sphere(1000, generator=gen)
    assert pts.device.type == "cuda" and pts.shape == (1000, 2)
    d = C.haversine(pts, C.antipode(pts))  # float32: antipodal distances good to ~1e-3 relative
    assert d.device.type == "cuda"
    assert torch.allclose(d.double().cpu(), torch.full((1000,), math.pi * R_KM, dtype=torch.float64), rtol=1e-3)


def test_integer_and_float16_inputs_are_converted():
    assert torch.equal(C.to_canonical(np.array([[1, 2], [3, 4]], dtype=np.int64)),
                       torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert torch.equal(C.to_canonical(torch.tensor([[5, -6]], dtype=torch.int32), dtype=torch.float64),
                       torch.tensor([[5.0, -6.0]], dtype=torch.float64))
    half = C.to_canonical(np.array([[1.5, 2.25]], dtype=np.float16), dtype=torch.float64)
    assert torch.equal(half, torch.tensor([[1.5, 2.25]], dtype=torch.float64))
    assert C.to_canonical(torch.tensor([[1.5, 2.25]], dtype=torch.float16)).dtype == torch.float32


def test_dataframe_columns_found_automatically_and_explicitly():
    df = pd.DataFrame({"id": [1, 2], "Latitude": [48.0, 51.5], "LNG": [2.5, -0.25]})
    expected = torch.tensor([[2.5, 48.0], [-0.25, 51.5]])
    assert torch.equal(C.to_canonical(df), expected)
    assert torch.equal(C.to_canonical(df, order="latlon"), expected)  # order is for positional input only
    odd = pd.DataFrame({"east": [2.5, -0.25], "north": [48.0, 51.5]})
    assert torch.equal(C.to_canonical(odd, lon_col="east", lat_col="north"), expected)
    xy = pd.DataFrame({"x": [2.5, -0.25], "y": [48.0, 51.5]})
    assert torch.equal(C.to_canonical(xy), expected)
    nullable = pd.DataFrame({"lon": pd.array([2, -1], dtype="Int64"), "lat": pd.array([48.0, 51.5], dtype="Float64")})
    assert torch.equal(C.to_canonical(nullable), torch.tensor([[2.0, 48.0], [-1.0, 51.5]]))


def test_dataframe_column_errors():
    with pytest.raises(CoordinateError, match="ambiguous longitude.*lon_col"):
        C.to_canonical(pd.DataFrame({"lon": [1.0], "x": [2.0], "lat": [3.0]}))
    with pytest.raises(CoordinateError, match="no latitude column.*lat_col"):
        C.to_canonical(pd.DataFrame({"lon": [1.0], "height": [3.0]}))
    with pytest.raises(CoordinateError, match="lon_col='nope' is not a column"):
        C.to_canonical(pd.DataFrame({"lon": [1.0], "lat": [3.0]}), lon_col="nope")
    with pytest.raises(CoordinateError, match="must be numeric"):
        C.to_canonical(pd.DataFrame({"lon": ["1.0"], "lat": ["3.0"]}))
    with pytest.raises(CoordinateError, match="non-finite.*row 1"):
        C.to_canonical(pd.DataFrame({"lon": pd.array([1.0, None], dtype="Float64"), "lat": [3.0, 4.0]}))
    with pytest.raises(CoordinateError, match="lon_col/lat_col only apply"):
        C.to_canonical(np.zeros((2, 2)), lon_col="lon")


def test_dict_of_arrays_and_structured_array():
    expected = torch.tensor([[2.5, 48.0], [-0.25, 51.5]])
    assert torch.equal(C.to_canonical({"lat": [48.0, 51.5], "lon": [2.5, -0.25]}), expected)
    tensors = {"Longitude": torch.tensor([2.5, -0.25]), "Latitude": torch.tensor([48.0, 51.5])}
    assert torch.equal(C.to_canonical(tensors), expected)
    assert torch.equal(C.to_canonical({"a": [2.5, -0.25], "b": [48.0, 51.5]}, lon_col="a", lat_col="b"), expected)
    rec = np.array([(48.0, 2.5), (51.5, -0.25)], dtype=[("lat", "f8"), ("lon", "f8")])
    assert torch.equal(C.to_canonical(rec), expected)
    with pytest.raises(CoordinateError, match="different lengths"):
        C.to_canonical({"lon": [1.0, 2.0], "lat": [3.0]})


def test_shapely_points():
    shapely = pytest.importorskip("shapely")
    pts = [shapely.Point(2.5, 48.0), shapely.Point(-0.25, 51.5)]
    expected = torch.tensor([[2.5, 48.0], [-0.25, 51.5]])
    assert torch.equal(C.to_canonical(shapely.Point(2.5, 48.0)), expected[:1])
    assert torch.equal(C.to_canonical(pts), expected)
    assert torch.equal(C.to_canonical(np.array(pts, dtype=object)), expected)
    assert torch.equal(C.to_canonical(pd.Series(pts)), expected)
    with pytest.raises(CoordinateError, match="point 1 is Polygon.*centroid"):
        C.to_canonical([pts[0], shapely.Point(0, 0).buffer(1.0)])
    with pytest.raises(CoordinateError, match="point 0 is an empty Point"):
        C.to_canonical([shapely.Point(), pts[0]])


def _mercator(lon, lat, r=6378137.0):
    """Spherical (web) Mercator, EPSG:3857, by its defining formula."""
    return r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


class _FakeGeoSeries:
    """Duck-typed stand-in for a geopandas GeoSeries (geopandas is optional)."""

    def __init__(self, geoms, crs):
        self.geometry = geoms
        self.crs = crs


def test_crs_reprojection_of_points_arrays_and_geo_objects():
    shapely = pytest.importorskip("shapely")
    lonlat = [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688)]
    merc = [_mercator(*p) for p in lonlat]
    expected = torch.tensor(lonlat, dtype=torch.float64)
    pts = [shapely.Point(x, y) for x, y in merc]
    for out in (C.to_canonical(pts, crs="EPSG:3857", dtype=torch.float64),
                C.to_canonical(np.array(merc), crs=3857, dtype=torch.float64),
                C.to_canonical(np.array(merc)[:, ::-1], order="latlon", crs="EPSG:3857", dtype=torch.float64),
                C.to_canonical(_FakeGeoSeries(pts, "EPSG:3857"), dtype=torch.float64)):
        assert_close(out, expected, atol=1e-7, rtol=0)
    # a GeoSeries already in WGS 84 is taken as is
    wgs = _FakeGeoSeries([shapely.Point(*p) for p in lonlat], "EPSG:4326")
    assert torch.equal(C.to_canonical(wgs, dtype=torch.float64), expected)
    with pytest.raises(CoordinateError, match="conflicts"):
        C.to_canonical(_FakeGeoSeries(pts, "EPSG:3857"), crs="EPSG:32631")
    with pytest.raises(CoordinateError, match="not a coordinate reference system"):
        C.to_canonical(np.array(merc), crs="EPSG:not-a-code")


def test_real_geoseries_if_geopandas_is_installed():
    gpd = pytest.importorskip("geopandas")
    shapely = pytest.importorskip("shapely")
    gs = gpd.GeoSeries([shapely.Point(*_mercator(10.0, 20.0))], crs="EPSG:3857")
    assert_close(C.to_canonical(gs, dtype=torch.float64),
                               torch.tensor([[10.0, 20.0]], dtype=torch.float64), atol=1e-7, rtol=0)
    gdf = gpd.GeoDataFrame({"v": [1]}, geometry=gs)
    assert_close(C.to_canonical(gdf, dtype=torch.float64),
                               torch.tensor([[10.0, 20.0]], dtype=torch.float64), atol=1e-7, rtol=0)


# ----------------------------------------------------------------------------- validation errors
def test_order_must_be_lonlat_or_latlon():
    for bad in ("xy", "lon,lat", None, 1):
        with pytest.raises(CoordinateError, match="'lonlat'.*'latlon'"):
            C.to_canonical([1.0, 2.0], order=bad)
    assert C.normalize_order(" LATLON ") == "latlon"
    assert C.normalize_order("lonlat") == "lonlat"


@pytest.mark.parametrize("bad,pattern", [
    ([[1.0, 2.0], [3.0, 4.0], [5.0, float("nan")]], r"non-finite.*row 2 \[5\.0, nan\]"),
    ([[1.0, 2.0], [float("inf"), 4.0]], r"non-finite.*row 1"),
    ([[100.0, 95.0]], r"latitude 95\.0 at row 0.*outside \[-90, 90\]"),
    ([[0.0, 0.0], [190.0, 5.0]], r"longitude 190\.0 at row 1.*wrap=True"),
    ([[1.0, 2.0, 3.0]], r"shape \(N, 2\).*\(1, 3\).*coords\[:, :2\]"),
    ([1.0, 2.0, 3.0, 4.0], r"shape \(N, 2\).*\(4,\).*reshape"),
    (np.zeros((2, 2, 2)), r"shape \(N, 2\).*\(2, 2, 2\)"),
    (np.zeros((2, 7)), r"coords\.T"),
    (np.float64(3.0), r"shape \(N, 2\)"),
    ([["1.0", "2.0"]], r"must be numeric"),
    ([[1.0, None]], r"must be numeric"),
    ([[True, False]], r"booleans"),
    (torch.tensor([[True, False]]), r"booleans"),
    (np.array([[1 + 2j, 3.0]]), r"complex"),
    ([[1.0, 2.0], [3.0]], r"cannot read the coordinates"),
    ([[1e6, 5e6]], r"projected coordinates.*crs="),
])
def test_bad_input_raises_a_clear_error(bad, pattern):
    with pytest.raises(CoordinateError, match=pattern):
        C.to_canonical(bad)


def test_coordinate_error_is_a_value_error():
    with pytest.raises(ValueError):
        C.to_canonical([[0.0, 91.0]])


def test_bad_arguments():
    with pytest.raises(CoordinateError, match="dtype"):
        C.to_canonical([1.0, 2.0], dtype=torch.int64)
    with pytest.raises(CoordinateError, match="wrap"):
        C.to_canonical([1.0, 2.0], wrap="yes")


def test_latitude_out_of_range_in_float32_tensor_names_the_row():
    t = torch.zeros(5, 2)
    t[3, 1] = -90.5
    t[3, 0] = 120.0
    with pytest.raises(CoordinateError, match=r"latitude -90\.5 at row 3"):
        C.to_canonical(t)


def test_boundary_values_are_valid():
    pts = [[180.0, 90.0], [-180.0, -90.0], [0.0, 0.0]]
    assert torch.equal(C.to_canonical(pts), torch.tensor(pts))
    assert torch.equal(C.to_canonical(pts, wrap=True), torch.tensor(pts))


# ----------------------------------------------------------------------------- swapped order / radians
def test_impossible_order_raises_with_the_fix():
    with pytest.raises(CoordinateError, match=r"look like \(lat, lon\): pass order='latlon'"):
        C.to_canonical([[45.0, 120.0], [10.0, 20.0]])  # (lat, lon) declared lonlat: "lat" 120
    with pytest.raises(CoordinateError, match=r"look like \(lon, lat\): pass order='lonlat'"):
        C.to_canonical([[120.0, 45.0], [10.0, 20.0]], order="latlon")
    with pytest.raises(CoordinateError, match=r"columns look swapped: pass lon_col='lat', lat_col='lon'"):
        C.to_canonical({"lon": [45.0, 10.0], "lat": [120.0, 20.0]})


def test_suspicious_order_warns_and_can_be_silenced():
    with pytest.warns(C.CoordinateWarning, match="order='latlon'"):
        C.to_canonical(EAST_NA_LATLON)  # (lat, lon) passed as lonlat: every "lat" is around -75
    with pytest.warns(UserWarning, match="order='lonlat'"):
        C.to_canonical(EAST_NA_LATLON[:, ::-1], order="latlon")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = C.to_canonical(EAST_NA_LATLON, check_order=False)
        assert out[0, 1].item() == pytest.approx(-74.01)
        C.to_canonical(EAST_NA_LATLON, order="latlon")  # the right order: no warning


def test_typical_data_does_not_warn():
    rng = np.random.default_rng(0)
    regions = {
        "global": np.column_stack((rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500))),
        "africa": np.column_stack((rng.uniform(-17, 51, 500), rng.uniform(-35, 37, 500))),
        "chile": np.column_stack((rng.uniform(-75, -67, 500), rng.uniform(-56, -17, 500))),
        "europe": np.column_stack((rng.uniform(-10, 40, 500), rng.uniform(35, 70, 500))),
        "lapland": np.column_stack((rng.uniform(5, 31, 500), rng.uniform(66, 71, 500))),
        "few radians-like points": np.array([[0.5, 0.2], [1.0, 1.0]]),
        "all zeros": np.zeros((20, 2)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, pts in regions.items():
            assert C.to_canonical(pts).shape == pts.shape, name
        C.to_canonical(C.sample_uniform_sphere(2000, generator=torch.Generator().manual_seed(1)))


def test_radians_warning():
    deg = np.array([[2.35, 48.86], [-74.0, 40.7], [151.2, -33.9], [139.7, 35.7], [-43.2, -22.9],
                    [37.6, 55.8], [77.2, 28.6], [18.4, -33.9], [-99.1, 19.4], [103.8, 1.35]])
    rad = np.deg2rad(deg)
    with pytest.warns(C.CoordinateWarning, match="radians.*rad2deg"):
        C.to_canonical(rad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.to_canonical(rad, check_order=False)
        C.to_canonical(deg)


# ----------------------------------------------------------------------------- wrapping
def test_wrap_rule():
    out = C.to_canonical([[190.0, 0.0], [-190.0, 1.0], [540.0, 2.0], [180.0, 3.0], [-180.0, 4.0],
                          [360.0, 5.0], [-540.0, 6.0], [725.5, 7.0]], wrap=True, dtype=torch.float64)
    assert out[:, 0].tolist() == [-170.0, 170.0, -180.0, 180.0, -180.0, 0.0, -180.0, 5.5]
    assert out[:, 1].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_wrap_longitude_types_and_values():
    vals = [190.0, -190.0, 540.0, 180.0, -180.0, 0.0, 359.0, -0.5]
    expected = [-170.0, 170.0, -180.0, -180.0, -180.0, 0.0, -1.0, -0.5]
    t = C.wrap_longitude(torch.tensor(vals, dtype=torch.float64))
    assert isinstance(t, torch.Tensor) and t.tolist() == expected
    a = C.wrap_longitude(np.array(vals))
    assert isinstance(a, np.ndarray) and a.tolist() == expected
    assert C.wrap_longitude(-181.0) == 179.0
    # values already in [-180, 180) are returned bit for bit, also in float32
    x = torch.tensor([0.1, -179.99998, 179.99998, 45.123457], dtype=torch.float32)
    assert torch.equal(C.wrap_longitude(x), x)
    # the result is always in [-180, 180)
    r = C.wrap_longitude(torch.linspace(-1000, 1000, 10001, dtype=torch.float64))
    assert r.min().item() >= -180.0 and r.max().item() < 180.0


# ----------------------------------------------------------------------------- radians, xyz, distances
def test_deg2rad_rad2deg_keep_the_container_type():
    t = C.deg2rad(torch.tensor([180.0, 90.0]))
    assert isinstance(t, torch.Tensor)
    assert_close(t, torch.tensor([math.pi, math.pi / 2]))
    a = C.rad2deg(np.array([math.pi, -math.pi / 4]))
    assert isinstance(a, np.ndarray)
    np.testing.assert_allclose(a, [180.0, -45.0])


def test_lonlat_to_xyz_known_vectors():
    ll = torch.tensor([[0.0, 0.0], [90.0, 0.0], [0.0, 90.0], [180.0, 0.0], [-90.0, 0.0], [45.0, -90.0],
                       [45.0, 45.0]], dtype=torch.float64)
    h = math.sqrt(0.5)
    expected = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1],
                             [0.5, 0.5, h]], dtype=torch.float64)
    assert_close(C.lonlat_to_xyz(ll), expected, atol=1e-12, rtol=0)
    out = C.lonlat_to_xyz(np.array([[0.0, 0.0]]))
    assert isinstance(out, np.ndarray) and out.shape == (1, 3)


def test_xyz_to_lonlat_normalises_and_handles_poles():
    xyz = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 0.0, -0.1], [0.0, -3.0, 0.0],
                        [1.0, 1.0, math.sqrt(2.0)], [-1.0, 0.0, 0.0]], dtype=torch.float64)
    expected = torch.tensor([[0.0, 0.0], [0.0, 90.0], [0.0, -90.0], [-90.0, 0.0], [45.0, 45.0], [180.0, 0.0]],
                            dtype=torch.float64)
    assert_close(C.xyz_to_lonlat(xyz), expected, atol=1e-12, rtol=0)


def test_xyz_round_trip_including_poles_and_antimeridian():
    gen = torch.Generator().manual_seed(0)
    pts = C.sample_uniform_sphere(1000, generator=gen, dtype=torch.float64)
    assert_close(C.xyz_to_lonlat(C.lonlat_to_xyz(pts)), pts, atol=1e-9, rtol=0)
    poles = torch.tensor([[123.0, 90.0], [-45.0, -90.0]], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        back = C.xyz_to_lonlat(C.lonlat_to_xyz(poles.to(dtype)))
        assert back[:, 0].tolist() == [0.0, 0.0]
        assert_close(back[:, 1], torch.tensor([90.0, -90.0], dtype=dtype), atol=1e-4, rtol=0)
    anti = C.xyz_to_lonlat(C.lonlat_to_xyz(torch.tensor([[180.0, 10.0], [-179.9, -5.0]], dtype=torch.float64)))
    assert abs(abs(anti[0, 0].item()) - 180.0) < 1e-9 and anti[0, 1].item() == pytest.approx(10.0)
    assert anti[1].tolist() == pytest.approx([-179.9, -5.0])


def test_haversine_known_distances():
    geod = pytest.importorskip("pyproj").Geod(a=R_KM * 1000.0, b=R_KM * 1000.0)  # independent solver, sphere
    _, _, metres = geod.inv(PARIS[0], PARIS[1], LONDON[0], LONDON[1])
    d = C.haversine(torch.tensor(PARIS, dtype=torch.float64), torch.tensor(LONDON, dtype=torch.float64))
    assert d.item() == pytest.approx(metres / 1000.0, rel=1e-9)
    assert d.item() == pytest.approx(343.5, abs=0.6)
    a = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 20.0], [30.0, 40.0], [0.0, 89.0]])
    b = np.array([[0.0, 90.0], [180.0, 0.0], [-170.0, -20.0], [30.0, 40.0], [180.0, 89.0]])
    out = C.haversine(a, b)
    assert isinstance(out, np.ndarray) and out.shape == (5,)
    np.testing.assert_allclose(out, [math.pi * R_KM / 2, math.pi * R_KM, math.pi * R_KM, 0.0, 2 * math.pi * R_KM / 180],
                               rtol=1e-12, atol=1e-9)
    # nearly identical points: 1e-7 degrees of latitude apart
    f64 = torch.float64
    tiny = C.haversine(torch.tensor([5.0, 10.0], dtype=f64), torch.tensor([5.0, 10.0000001], dtype=f64))
    assert tiny.item() == pytest.approx(R_KM * math.radians(1e-7), rel=1e-6)
    # broadcasting and a custom radius
    many = C.haversine(torch.zeros(3, 2), torch.tensor([0.0, 90.0]), radius=1.0)
    assert_close(many, torch.full((3,), math.pi / 2))


def test_antipode():
    pts = np.array([[10.0, 20.0], [-30.0, 45.0], [0.0, 0.0], [180.0, -90.0]])
    np.testing.assert_array_equal(C.antipode(pts), [[-170.0, -20.0], [150.0, -45.0], [180.0, 0.0], [0.0, 90.0]])
    t = torch.tensor(pts[:3])
    np.testing.assert_allclose(C.haversine(t, C.antipode(t)).numpy(), math.pi * R_KM, rtol=1e-12)


# ----------------------------------------------------------------------------- projections
def _equal_earth_sphere(lon, lat, r=6378137.0):
    a1, a2, a3, a4 = 1.340264, -0.081106, 0.000893, 0.003796
    m = math.sqrt(3.0) / 2.0
    lam, phi = math.radians(lon), math.radians(lat)
    th = math.asin(m * math.sin(phi))
    x = 2 * math.sqrt(3) * lam * math.cos(th) / (3 * (9 * a4 * th**8 + 7 * a3 * th**6 + 3 * a2 * th**2 + a1)) * r
    y = (a4 * th**9 + a3 * th**7 + a2 * th**3 + a1 * th) * r
    return x, y


def test_equal_earth_matches_the_published_formula():
    pytest.importorskip("pyproj")
    pts = [PARIS, (-74.006, 40.7128), (151.2093, -33.8688), (180.0, 90.0), (-180.0, -45.0)]
    expected = np.array([_equal_earth_sphere(*p) for p in pts])
    np.testing.assert_allclose(C.project(pts, "+proj=eqearth +R=6378137"), expected, rtol=0, atol=1e-3)
    # EPSG:8857 is the ellipsoidal (authalic-latitude) form: within 0.5 % of the spherical one
    ee = C.equal_earth(pts)
    assert ee.shape == (5, 2) and ee.dtype == np.float64
    np.testing.assert_allclose(ee, expected, rtol=5e-3)
    np.testing.assert_array_equal(C.project([0.0, 0.0]), [[0.0, 0.0]])


def test_project_unproject_round_trip_and_errors():
    pytest.importorskip("pyproj")
    pts = np.array([[2.3522, 48.8566], [-74.006, 40.7128], [151.2093, -33.8688], [-179.5, 60.0], [0.0, -89.0]])
    for crs in ("EPSG:8857", 3857, "EPSG:32631"):
        xy = C.project(pts, crs)
        np.testing.assert_allclose(C.unproject(xy, crs), pts, atol=1e-6, rtol=0)
    merc = C.project([[10.0, 20.0]], "EPSG:3857")
    np.testing.assert_allclose(merc, [_mercator(10.0, 20.0)], rtol=1e-12)
    assert C.project(np.empty((0, 2))).shape == (0, 2)
    with pytest.raises(CoordinateError, match="latitude"):
        C.project([[0.0, 95.0], [100.0, 0.0]])
    with pytest.raises(CoordinateError, match="non-finite"):
        C.unproject([[0.0, float("nan")]])


# ----------------------------------------------------------------------------- sampling
def test_sample_uniform_sphere_is_uniform_per_area_and_reproducible():
    n = 100_000
    pts = C.sample_uniform_sphere(n, generator=torch.Generator().manual_seed(123), dtype=torch.float64)
    assert pts.shape == (n, 2) and pts.dtype == torch.float64
    lon, lat = pts[:, 0], pts[:, 1]
    assert lon.min() >= -180.0 and lon.max() < 180.0 and lat.min() >= -90.0 and lat.max() <= 90.0
    # uniform on the sphere: sin(lat) ~ U[-1, 1]; the band |lat| < 30 holds sin(30 deg) = half the area
    assert torch.sin(torch.deg2rad(lat)).mean().item() == pytest.approx(0.0, abs=0.01)
    assert (lat.abs() < 30.0).double().mean().item() == pytest.approx(0.5, abs=0.01)
    assert (lat.abs() > 60.0).double().mean().item() == pytest.approx(1 - math.sin(math.radians(60)), abs=0.01)
    assert lon.mean().item() == pytest.approx(0.0, abs=2.0)
    again = C.sample_uniform_sphere(n, generator=torch.Generator().manual_seed(123), dtype=torch.float64)
    assert torch.equal(pts, again)
    other = C.sample_uniform_sphere(n, generator=torch.Generator().manual_seed(124), dtype=torch.float64)
    assert not torch.equal(pts, other)
    f32 = C.sample_uniform_sphere(10, device="cpu")
    assert f32.dtype == torch.float32 and f32.device == torch.device("cpu")
    assert C.sample_uniform_sphere(0).shape == (0, 2)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError):
            C.sample_uniform_sphere(bad)


# ----------------------------------------------------------------------------- speed and import cost
def test_conversion_is_vectorised():
    x = np.random.default_rng(0).uniform(-90.0, 90.0, (1_000_000, 2))
    start = time.perf_counter()
    out = C.to_canonical(x, order="latlon", wrap=True)
    assert time.perf_counter() - start < 2.0
    assert out.shape == (1_000_000, 2) and out[5, 0].item() == pytest.approx(x[5, 1], abs=1e-4)


def test_optional_dependencies_are_imported_lazily():
    modules = sorted(Path(C.__file__).parent.glob("*.py"))
    assert len(modules) >= 6  # a package, one concept per module
    top_level = set()
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module-level statements only; imports inside functions are fine
            if isinstance(node, ast.Import):
                top_level.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top_level.add(node.module.split(".")[0])
    assert "torch" in top_level and "numpy" in top_level
    assert not top_level & {"pyproj", "shapely", "geopandas", "pandas"}


def test_coords_modules_are_small_and_import_no_heavy_module():
    for path in Path(C.__file__).parent.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
    code = ("import sys, json, torch\nfrom geoloc_embed import coords\n"
            "coords.to_canonical([[1.0, 2.0]] * 20); coords.wrap_longitude(190.0)\n"
            "print(json.dumps(sorted(m for m in ('pyproj', 'pandas', 'shapely', 'geopandas') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_public_api():
    for name in C.__all__:
        assert hasattr(C, name), name
