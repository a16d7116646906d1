"""shapely, geopandas and pyproj inputs with projected CRSs (issue 11 item 3: these must really run).

The projected coordinates come from geopandas' own ``to_crs`` (or the Web Mercator formula), never
from geoloc_embed; ``to_canonical`` must give back the original longitudes and latitudes.
"""

import math

import numpy as np
import pytest
import torch

from geoloc_embed import coords as C
from geoloc_embed.errors import CoordinateError

gpd = pytest.importorskip("geopandas")  # in the `test` extra: runs wherever the test environment is installed
shapely = pytest.importorskip("shapely")

LONLAT = np.array([[2.3522, 48.8566], [13.405, 52.52], [-3.7038, 40.4168], [12.4964, 41.9028], [21.0122, 52.2297]])


def _frame(crs="EPSG:4326"):
    gdf = gpd.GeoDataFrame({"name": ["paris", "berlin", "madrid", "rome", "warsaw"]},
                           geometry=gpd.points_from_xy(LONLAT[:, 0], LONLAT[:, 1]), crs="EPSG:4326")
    return gdf if crs == "EPSG:4326" else gdf.to_crs(crs)


def _close(out, expected=LONLAT, atol=1e-7):
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, atol=atol, rtol=0)


def test_geodataframe_in_wgs84_is_read_exactly():
    out = C.to_canonical(_frame(), dtype=torch.float64)
    assert torch.equal(out, torch.from_numpy(LONLAT))
    assert torch.equal(C.to_canonical(_frame().geometry, dtype=torch.float64), out)  # a GeoSeries


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:3035", "EPSG:32633", "EPSG:8857", "ESRI:54009"])
def test_projected_geodataframes_are_reprojected_back(crs):
    # EPSG:3035 (LAEA Europe) declares northing first: the points must still come back as (lon, lat)
    gdf = _frame(crs)
    assert not gdf.crs.is_geographic
    _close(C.to_canonical(gdf, dtype=torch.float64))
    _close(C.to_canonical(gdf.geometry, dtype=torch.float64))
    # the same coordinates as plain arrays, shapely points or columns, with crs=
    xy = np.column_stack((gdf.geometry.x, gdf.geometry.y))
    _close(C.to_canonical(xy, crs=crs, dtype=torch.float64))
    _close(C.to_canonical(xy[:, ::-1], order="latlon", crs=crs, dtype=torch.float64))
    _close(C.to_canonical(list(gdf.geometry), crs=crs, dtype=torch.float64))
    _close(C.to_canonical({"x": xy[:, 0], "y": xy[:, 1]}, crs=crs, dtype=torch.float64))
    assert C.to_canonical(gdf).dtype == torch.float32


def test_web_mercator_by_its_formula():
    r = 6378137.0
    merc = [(r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))) for lon, lat in LONLAT]
    gs = gpd.GeoSeries([shapely.Point(x, y) for x, y in merc], crs=3857)
    _close(C.to_canonical(gs, dtype=torch.float64))


def test_geographic_crs_other_than_wgs84_is_transformed():
    # ETRS89 and WGS 84 differ by well under a metre: the result is within 1e-5 degrees of the input
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(LONLAT[:, 0], LONLAT[:, 1]), crs="EPSG:4258")
    _close(C.to_canonical(gdf, dtype=torch.float64), atol=1e-5)
    crs84 = gpd.GeoSeries(gpd.points_from_xy(LONLAT[:, 0], LONLAT[:, 1]), crs="OGC:CRS84")
    assert torch.equal(C.to_canonical(crs84, dtype=torch.float64), torch.from_numpy(LONLAT))


def test_crs_argument_must_agree_with_the_frames_own():
    gdf = _frame("EPSG:3035")
    _close(C.to_canonical(gdf, crs="EPSG:3035", dtype=torch.float64))
    with pytest.raises(CoordinateError, match="conflicts with the input's own CRS"):
        C.to_canonical(gdf, crs="EPSG:3857")


def test_named_columns_of_a_geodataframe_ignore_its_geometry_crs():
    gdf = _frame("EPSG:3035")
    gdf["lon"], gdf["lat"] = LONLAT[:, 0], LONLAT[:, 1]
    out = C.to_canonical(gdf, lon_col="lon", lat_col="lat", dtype=torch.float64)
    assert torch.equal(out, torch.from_numpy(LONLAT))


def test_bad_geometries_are_named():
    polys = gpd.GeoSeries([shapely.Point(0, 0), shapely.Point(1, 1).buffer(1.0)], crs=4326)
    with pytest.raises(CoordinateError, match=r"point 1 is Polygon.*centroid"):
        C.to_canonical(polys)
    missing = gpd.GeoSeries([shapely.Point(0, 0), None], crs=4326)
    with pytest.raises(CoordinateError, match=r"point 1 is None/missing"):
        C.to_canonical(missing)
    assert C.to_canonical(_frame().iloc[:0]).shape == (0, 2)
    # a point outside the projection's domain is named, never silently clamped or wrapped
    with pytest.raises(CoordinateError, match=r"row 0 .*outside the domain"):
        C.to_canonical(gpd.GeoSeries([shapely.Point(1e30, 1e30)], crs=3857))  # pyproj says (-180, 90)
    with pytest.raises(CoordinateError, match=r"row 1 .*outside the domain of CRS .EPSG:3857.*projects back"):
        C.to_canonical(gpd.GeoSeries([shapely.Point(0, 0), shapely.Point(1e8, 1e7)], crs=3857))  # x > 20037508 m
    with pytest.raises(CoordinateError, match=r"cannot be transformed with CRS .EPSG:3035.\s*\(outside"):
        C.to_canonical(gpd.GeoSeries([shapely.Point(1e8, 1e8)], crs=3035))
