"""Ray Data: a callable class for ``Dataset.map_batches`` that loads the model once per actor.

    import ray
    from geoloc_embed.integrations.ray import EmbedBatches

    ds = ray.data.read_parquet("occurrences/")
    ds = ds.map_batches(EmbedBatches, fn_constructor_kwargs={"model": "csp-inat"},
                        concurrency=4, batch_size=65536, batch_format="pyarrow")
    ds.write_parquet("embedded/")

Ray runs a callable class in a pool of actors (``concurrency`` of them), constructing it once per
actor: ``__init__`` loads the model, ``__call__`` embeds one batch with
:func:`~geoloc_embed.integrations.batch.embed_batch`. Every batch format works:
``"pyarrow"`` (a ``fixed_size_list<float>[D]`` column, recommended), ``"numpy"`` (an (N, D) tensor
column) and ``"pandas"``. :func:`embed_dataset` is the same call with these defaults. Pass
``num_gpus=1`` to ``map_batches`` and ``device="cuda"`` here to embed on GPUs.
"""

from typing import Any, Optional

from ._options import batch_options
from .batch import embed_batch
from .models import ModelRef, load_encoder

__all__ = ["EmbedBatches", "embed_dataset"]


class EmbedBatches:
    """Ray Data callable class: ``batch -> batch`` with an embedding column (all input columns kept).

    Args:
        model: registered name, model directory, ``hf-hub:`` name, ``LocationEncoder``, or None for
            the bundled default; loaded here, once per actor.
        options: ``embed_batch``'s keywords (``lon_col``, ``lat_col``, ``column``, ``out_dtype``,
            ``on_invalid``, ``valid_column``, ``wrap``, ``batch_size``, ``device``, ``dtype``,
            ``local_files_only``). ``on_invalid="skip"`` changes the row count, which Ray allows
            for ``map_batches``.
    """

    def __init__(self, model: ModelRef = None, **options: Any) -> None:
        self.options = batch_options(**options)
        self.model = load_encoder(model, device=self.options["device"] or "cpu",
                                  local_files_only=self.options["local_files_only"])

    def __call__(self, batch: Any) -> Any:
        return embed_batch(batch, self.model, **self.options)


def embed_dataset(ds: Any, model: ModelRef = None, *, concurrency: int = 1, batch_size: Optional[int] = 65536,
                  batch_format: str = "pyarrow", num_gpus: Optional[float] = None, **options: Any) -> Any:
    """``ds.map_batches(EmbedBatches, ...)``: a lazy Ray Dataset with an embedding column.

    Args:
        ds: a ``ray.data.Dataset`` with longitude/latitude columns.
        model: as for :class:`EmbedBatches`.
        concurrency: number of actors (each loads the model once).
        batch_size: rows per batch handed to an actor (Ray's ``map_batches`` batch size).
        batch_format: "pyarrow" (default), "numpy" or "pandas".
        num_gpus: GPUs per actor (also pass ``device="cuda"``).
        options: ``embed_batch``'s keywords, checked here before anything runs.
    """
    batch_options(**options)  # fail on the driver, not in every actor
    extra = {"num_gpus": num_gpus} if num_gpus else {}
    return ds.map_batches(EmbedBatches, fn_constructor_kwargs={"model": model, **options}, concurrency=concurrency,
                          batch_size=batch_size, batch_format=batch_format, **extra)
