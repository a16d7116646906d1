"""Dask: embed every partition of a Dask DataFrame with ``map_partitions``.

    import dask.dataframe as dd
    from geoloc_embed.integrations.dask import embed_partitions

    ddf = dd.read_parquet("occurrences/")                    # any partitions with lon/lat columns
    out = embed_partitions(ddf, model="csp-inat")            # lazy; adds 'embedding'
    out.to_parquet("embedded/")                              # or out.compute(), with a distributed Client

Each partition (a pandas DataFrame) goes through :func:`~geoloc_embed.integrations.batch.embed_batch`:
its columns are kept and an ``embedding`` column is added as ``pd.ArrowDtype(pa.list_(pa.float32(), D))``
(float16 with ``out_dtype=np.float16``), which ``to_parquet`` writes as a fixed-size list. The
output's ``meta`` is computed by running the same function on the input's empty ``meta``, so it is
exact. A model reference (name or directory) travels to the workers as a string and is loaded
once per worker process (``geoloc_embed.integrations.models.load_encoder``); the workers need
geoloc-embed installed and the model reachable (a shared path, the cache, or network access).
"""

from typing import Any

from ._options import batch_options
from .batch import embed_batch
from .models import ModelRef, load_encoder, model_name

__all__ = ["PartitionEmbedder", "embed_partitions"]


class PartitionEmbedder:
    """A picklable callable: pandas DataFrame partition -> the same partition with an embedding column.

    Holds the model *reference* (or a ``LocationEncoder``) and the ``embed_batch`` options; the model is
    loaded on first use in each process.
    """

    def __init__(self, model: ModelRef = None, **options: Any) -> None:
        self.model = model
        self.options = batch_options(**options)

    def __call__(self, frame: Any) -> Any:
        encoder = load_encoder(self.model, local_files_only=self.options["local_files_only"])
        return embed_batch(frame, encoder, **self.options)

    def __dask_tokenize__(self) -> Any:
        """A cheap, deterministic token (Dask would otherwise hash a whole model it finds here)."""
        return (type(self).__name__, model_name(self.model), id(self.model) if not isinstance(self.model, str) else 0,
                sorted((k, str(v)) for k, v in self.options.items()))


def embed_partitions(ddf: Any, model: ModelRef = None, **options: Any) -> Any:
    """``ddf.map_partitions`` with :class:`PartitionEmbedder` and the exact output ``meta``.

    Args:
        ddf: a ``dask.dataframe.DataFrame`` with longitude/latitude columns.
        model: a registered name, model directory or ``hf-hub:`` name (loaded once per worker), a
            ``LocationEncoder`` (sent to the workers inside the task graph), or None for the default.
        options: ``embed_batch``'s keywords: ``lon_col``, ``lat_col``, ``column``, ``out_dtype``,
            ``on_invalid`` ("error", "skip", "nan"), ``valid_column``, ``wrap``, ``batch_size``,
            ``device``, ``dtype``, ``local_files_only``.

    Returns:
        A lazy Dask DataFrame: the input's columns plus the embedding column (and the mask with "nan").
        The client loads the model once too, to build ``meta`` (and to fail early on a bad reference).
    """
    embedder = PartitionEmbedder(model, **options)
    meta = embedder(ddf._meta)  # the function itself on the empty partition: exact columns and dtypes
    return ddf.map_partitions(embedder, meta=meta)
