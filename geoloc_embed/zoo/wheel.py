"""Files inside an installed PyPI distribution (GeoCLIP's weights in the ``geoclip`` wheel), without importing it."""

import importlib.util
from pathlib import Path
from typing import Optional

from .spec import PretrainedSpec

__all__ = ["pip_wheel_file"]


def pip_wheel_file(spec: PretrainedSpec) -> Optional[Path]:
    """``spec.filename`` (``<package>/<path inside it>``) of the installed package, or None.

    ``importlib.util.find_spec`` of a top-level package locates it without running its ``__init__``.
    """
    if not spec.pip_package or not spec.filename:
        return None
    top, _, relative = spec.filename.partition("/")
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for location in found.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None
