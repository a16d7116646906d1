"""Issue 13 item 13: errors for odd coordinate input say what is wrong, and their suggested fix works.

Each test failed before its fix: a rounding overshoot past the pole was answered with a swap hint,
wrap=True turned a float32 3e38 into lon 2e31, an iterator got a hint that itself failed, a meta
tensor gave a raw NotImplementedError.
"""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import torch

from geoloc_embed import coords as C
from geoloc_embed.errors import CoordinateError


def _exact_wrap(value: float) -> float:
    """The longitude ``value`` wrapped into [-180, 180), computed exactly with rationals."""
    r = (Fraction(value) + 180) % 360 - 180
    return float(r)


# ----------------------------------------------------------------------------- overshoot past a pole
def test_rounding_overshoot_past_a_pole_is_named_and_clipping_fixes_it():
    pts = np.array([[10.0, 20.0], [30.0, 90.0 + 1e-9], [-5.0, -90.0 - 3e-10]])
    with pytest.raises(CoordinateError) as info:
        C.to_canonical(pts)
    msg = str(info.value)
    assert "order=" not in msg and "swap" not in msg.replace("swapped order", "")
    assert "rounding" in msg and "1e-09" in msg and "1e-05" in msg and "np.clip(coords[:, 1], -90, 90)" in msg
    fixed = pts.copy()
    fixed[:, 1] = np.clip(fixed[:, 1], -90, 90)  # the suggested fix, literally
    out = C.to_canonical(fixed, dtype=torch.float64)
    assert out[:, 1].tolist() == [20.0, 90.0, -90.0] and out[:, 0].tolist() == [10.0, 30.0, -5.0]


def test_rounding_overshoot_in_latlon_order_columns_and_float32():
    with pytest.raises(CoordinateError, match=r"rounding.*np\.clip\(coords\[:, 0\], -90, 90\)"):
        C.to_canonical([[90.0 + 1e-7, 10.0], [0.0, 0.0]], order="latlon")
    # one float32 step above 90 (7.6e-6) is rounding too
    with pytest.raises(CoordinateError, match=r"rounding.*clamp_\(-90, 90\)"):
        C.to_canonical(torch.tensor([[10.0, float(np.nextafter(np.float32(90), np.float32(100)))]]))
    df = pd.DataFrame({"lon": [1.0, 2.0], "lat": [45.0, -90.00000001]})
    with pytest.raises(CoordinateError, match=r"rounding.*df\['lat'\] = df\['lat'\]\.clip\(-90, 90\)"):
        C.to_canonical(df)
    df["lat"] = df["lat"].clip(-90, 90)
    assert C.to_canonical(df, dtype=torch.float64)[:, 1].tolist() == [45.0, -90.0]


def test_a_real_swap_is_still_suggested_and_following_it_works():
    latlon = np.array([[45.0, 120.0], [10.0, 20.0], [-33.9, 151.2]])  # (lat, lon) declared lonlat
    with pytest.raises(CoordinateError, match=r"\(2 of 3 rows\).*look like \(lat, lon\): pass order='latlon'"):
        C.to_canonical(latlon)
    out = C.to_canonical(latlon, order="latlon", dtype=torch.float64)
    assert out[:, 0].tolist() == [120.0, 20.0, 151.2]


# ----------------------------------------------------------------------------- wrapping huge values
def test_wrap_longitude_is_exact_and_in_range_at_any_magnitude():
    for dtype in (torch.float32, torch.float64):
        vals = torch.tensor([3e38, -3e38, 1e20, 123456789.123, 36000.5, -725.25, 1e7 + 0.5], dtype=dtype)
        out = C.wrap_longitude(vals)
        assert out.dtype == dtype and bool(((out >= -180) & (out < 180)).all()), out
        assert out.tolist() == [_exact_wrap(v) for v in vals.tolist()]


def test_to_canonical_wrap_refuses_longitudes_its_dtype_cannot_place():
    with pytest.raises(CoordinateError, match=r"longitude 3\.0e\+38 at row 1.*too large to wrap.*float32"):
        C.to_canonical(torch.tensor([[10.0, 0.0], [3e38, 1.0]]), wrap=True)
    with pytest.raises(CoordinateError, match=r"too large to wrap.*2 degrees apart.*16777216"):
        C.to_canonical(torch.tensor([[2.0**24 + 2, 1.0]]), wrap=True)
    with pytest.raises(CoordinateError, match=r"too large to wrap.*float64"):
        C.to_canonical(np.array([[1e300, 1.0]]), wrap=True)
    # below the limit the wrapped value is exact and in range
    big = np.array([[2.0**24 - 1, 1.0], [1e15 + 0.5, 2.0], [-36000.25, 3.0]])
    out = C.to_canonical(big, wrap=True, dtype=torch.float64)
    assert out[:, 0].tolist() == [_exact_wrap(v) for v in big[:, 0]]
    assert bool(((out[:, 0] >= -180) & (out[:, 0] <= 180)).all())
    f32 = C.to_canonical(torch.tensor([[2.0**24, 0.0]]), wrap=True)
    assert f32[0, 0].item() == _exact_wrap(2.0**24)


# ----------------------------------------------------------------------------- iterators, sets, meta tensors
def test_iterators_get_a_hint_that_works():
    lons, lats = [2.35, -0.13, 13.4], [48.86, 51.51, 52.52]
    expected = torch.tensor(list(zip(lons, lats, strict=True)), dtype=torch.float64)
    for make in (lambda: zip(lons, lats, strict=True), lambda: ((a, b) for a, b in zip(lons, lats, strict=True)),
                 lambda: iter([[a, b] for a, b in zip(lons, lats, strict=True)])):
        with pytest.raises(CoordinateError, match=r"iterator.*list\(") as info:
            C.to_canonical(make())
        assert "np.asarray(coords, dtype=float)" not in str(info.value)  # the old hint, which failed
        assert torch.equal(C.to_canonical(list(make()), dtype=torch.float64), expected)  # the hint
    with pytest.raises(CoordinateError, match=r"column 'lon'.*iterator.*list\("):
        C.to_canonical({"lon": (v for v in lons), "lat": lats})
    assert torch.equal(C.to_canonical({"lon": list(v for v in lons), "lat": lats}, dtype=torch.float64), expected)
    with pytest.raises(CoordinateError, match="set, which has no order"):
        C.to_canonical({(2.35, 48.86), (-0.13, 51.51)})


def test_meta_tensors_give_a_clear_error():
    with pytest.raises(CoordinateError, match="meta tensor.*real device"):
        C.to_canonical(torch.empty(5, 2, device="meta"))
    with pytest.raises(CoordinateError, match="meta tensor"):
        C.to_canonical({"lon": torch.empty(3, device="meta"), "lat": torch.zeros(3)})


# ----------------------------------------------------------------------------- column lookup helper
def test_find_lonlat_columns_is_the_lookup_to_canonical_uses():
    assert C.find_lonlat_columns(["id", "Latitude", "LNG"]) == ("LNG", "Latitude")
    assert C.find_lonlat_columns(["a", "b"], lon_col="b", lat_col="a") == ("b", "a")
    with pytest.raises(CoordinateError, match="no longitude column.*lon_col"):
        C.find_lonlat_columns(["lat", "value"])
    with pytest.raises(CoordinateError, match="ambiguous latitude"):
        C.find_lonlat_columns(["lon", "lat", "Y"])
    with pytest.raises(CoordinateError, match="both name column"):
        C.find_lonlat_columns(["lon", "lat"], lon_col="lon", lat_col="lon")
    assert not math.isnan(C.to_canonical(pd.DataFrame({"LNG": [1.0], "Latitude": [2.0]}))[0, 0].item())
