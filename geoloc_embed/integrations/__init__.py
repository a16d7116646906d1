"""geoloc-embed inside other tools: distributed engines and scikit-learn.

One engine-agnostic batch function, :func:`embed_batch` (:mod:`.batch`), and thin adapters over it,
one module per tool, each importing its tool only when used:

* :mod:`.ray`: ``EmbedBatches``, a callable class for Ray Data's ``Dataset.map_batches`` (the model
  loads once per actor);
* :mod:`.dask`: ``embed_partitions`` for a Dask DataFrame (``map_partitions`` with the right ``meta``);
* :mod:`.spark`: ``make_predict_fn`` and ``embed_udf`` for Spark's ``predict_batch_udf``;
* :mod:`.sklearn`: ``LocationEmbedding``, a scikit-learn transformer for pipelines;
* :mod:`.models`: model references resolved once per worker process.

The engines are optional extras (``pip install 'geoloc-embed[dask]'``, ``[ray]``, ``[spark]``,
``[sklearn]``); importing ``geoloc_embed`` or this package imports none of them.
"""

from .batch import INVALID_POLICIES, embed_batch, embeddings_to_numpy, encode_columns
from .models import load_encoder

__all__ = ["INVALID_POLICIES", "embed_batch", "embeddings_to_numpy", "encode_columns", "load_encoder"]
