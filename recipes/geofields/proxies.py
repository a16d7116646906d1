"""Proxy targets for model selection: fields that are *not* benchmark tasks.

Two kinds, both read from ``ferret-datasets`` / the pre-training stack, never from a benchmark
package:

* the pre-training fields themselves (``fields.load_fields``), reconstructed at spatially held-out
  points (does the embedding carry them, beyond the points it was trained on?);
* fields that pre-training never sees: FNOC monthly surface winds (global, land included,
  ``monthly_navy_winds.cdf``), the Esbensen-Kushnir marine heat budget (cloudiness, available
  solar radiation, latent heat flux; ``esku_heat_budget.cdf``) and the Levitus temperature and
  salinity at 3000 m.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from .data import cell_values
from .fields import _netcdf, _to_grid_nearest, cell_centres, load_fields

__all__ = ["heldout_fields", "proxy_targets"]


def _annual(var: np.ndarray, missing_abs: float) -> np.ndarray:
    a = np.array(var, dtype=np.float64)
    a[~np.isfinite(a) | (np.abs(a) >= missing_abs)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(a, axis=0)
    return np.where(np.isfinite(a).sum(axis=0) >= a.shape[0] // 2, m, np.nan)


@functools.lru_cache(maxsize=1)
def heldout_fields() -> tuple[np.ndarray, list[str]]:
    """(T, H, W) grids of the never-trained-on fields (NaN where undefined) and their names."""
    out, names = [], []
    nc = _netcdf("monthly_navy_winds.cdf")  # 2.5 deg, lon 0..357.5, lat -90..90 (73 rows: node-centred)
    lon0 = float(nc.variables["FNOCX"][0])
    for var in ("UWND", "VWND"):
        a = _annual(nc.variables[var][:], 90.0)  # (73, 144); missing = -99.9
        out.append(_to_grid_nearest(a[:-1], lon0, 2.5))
        names.append(f"fnoc_{var.lower()}")
    nc.close()
    nc = _netcdf("esku_heat_budget.cdf")  # 5 x ~4 deg
    lon0 = float(nc.variables["ESKUX"][0])
    edges = np.asarray(nc.variables["ESKUYedges"][:])
    for var in ("CLD", "FSR", "FLH"):
        a = _annual(nc.variables[var][:], 1e30)
        lonc, latc = np.meshgrid(*cell_centres())
        col = np.floor(((lonc - (lon0 - 2.5)) % 360.0) / 5.0).astype(np.int64) % a.shape[1]
        row = np.clip(np.searchsorted(edges, latc) - 1, 0, a.shape[0] - 1)
        out.append(a[row, col])
        names.append(f"esku_{var.lower()}")
    nc.close()
    nc = _netcdf("levitus_climatology.cdf")
    depths = np.asarray(nc.variables["ZAXLEVITR"][:])
    k = int(np.argmin(np.abs(depths - 3000.0)))
    lon0 = float(nc.variables["XAXLEVITR"][0])
    for var in ("TEMP", "SALT"):
        a = np.array(nc.variables[var][k], dtype=np.float64)
        a[np.abs(a) > 1e9] = np.nan
        out.append(_to_grid_nearest(a, lon0, 1.0))
        names.append(f"levitus_{var.lower()}3000m")
    nc.close()
    return np.stack(out).astype(np.float32), names


def proxy_targets(lonlat: np.ndarray, include_training_fields: bool = True) -> tuple[np.ndarray, list[str]]:
    """(N, T) values at ``lonlat`` (NaN where undefined) and the target names."""
    grid, names = heldout_fields()
    vals = [cell_values(grid, lonlat)]
    all_names = [f"heldout:{n}" for n in names]
    if include_training_fields:
        stack = load_fields()
        vals.insert(0, cell_values(stack.data, lonlat))
        all_names = [f"{g}:{n}" for g, n in zip(stack.groups, stack.names, strict=True)] + all_names
    return np.concatenate(vals, axis=1), all_names
