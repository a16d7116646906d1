"""Spark: ``pyspark.ml.functions.predict_batch_udf`` with a ``make_predict_fn`` that loads the model once.

    from geoloc_embed.integrations.spark import embed_udf

    embed = embed_udf(model="csp-inat", batch_size=65536)        # a pandas UDF (Spark >= 3.4)
    df = df.withColumn("embedding", embed("lon", "lat"))          # array<float>, D values per row

``predict_batch_udf`` calls ``make_predict_fn()`` once per Python worker to load the model and cache
its ``predict`` function, then calls ``predict(lon, lat)`` on numpy batches of the two scalar
columns; ``predict`` returns the (batch, D) float32 embeddings. :func:`make_predict_fn` builds that
picklable factory, so it can also be handed to ``predict_batch_udf`` directly::

    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType
    embed = predict_batch_udf(make_predict_fn("csp-inat"), return_type=ArrayType(FloatType()), batch_size=65536)

Spark has no half-precision type, so embeddings are float32; rows cannot be dropped in a UDF, so
``on_invalid`` is "error" (default) or "nan" (an all-NaN embedding for an invalid row).
"""

from typing import Any, Callable

import numpy as np

from .batch import encode_columns
from .models import ModelRef, load_encoder

__all__ = ["PredictFnFactory", "make_predict_fn", "embed_udf"]


class PredictFnFactory:
    """Picklable ``make_predict_fn``: calling it loads the model and returns ``predict(lon, lat) -> (N, D)``."""

    def __init__(self, model: ModelRef = None, *, on_invalid: str = "error", wrap: bool = False,
                 batch_size: int = 65536, device: Any = None, dtype: Any = None,
                 local_files_only: bool = False) -> None:
        if on_invalid not in ("error", "nan"):
            raise ValueError(f"on_invalid must be 'error' or 'nan' in a Spark UDF (it cannot drop rows), "
                             f"got {on_invalid!r}")
        self.model, self.on_invalid, self.wrap = model, on_invalid, bool(wrap)
        self.encode_options = {"batch_size": batch_size, "device": device, "dtype": dtype}
        self.local_files_only = bool(local_files_only)

    def __call__(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        encoder = load_encoder(self.model, device=self.encode_options["device"] or "cpu",
                               local_files_only=self.local_files_only)

        def predict(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
            """(N,) longitudes and (N,) latitudes in degrees -> (N, D) float32 embeddings."""
            embedding, _ = encode_columns(encoder, lon, lat, on_invalid=self.on_invalid, wrap=self.wrap,
                                          out_dtype=np.float32, **self.encode_options)
            return embedding

        return predict


def make_predict_fn(model: ModelRef = None, **options: Any) -> PredictFnFactory:
    """The ``make_predict_fn`` for ``predict_batch_udf``: options ``on_invalid`` ("error" or "nan"), ``wrap``,
    ``batch_size`` (points per forward), ``device``, ``dtype``, ``local_files_only``."""
    return PredictFnFactory(model, **options)


def embed_udf(model: ModelRef = None, *, batch_size: int = 65536, **options: Any) -> Any:
    """``predict_batch_udf(make_predict_fn(model, ...), return_type=ArrayType(FloatType()), batch_size=...)``.

    Apply it to the longitude and latitude columns, in that order: ``embed_udf(...)("lon", "lat")``.
    ``batch_size`` is the number of rows Spark hands to ``predict`` at a time.
    """
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType

    return predict_batch_udf(make_predict_fn(model, **options), return_type=ArrayType(FloatType()),
                             batch_size=batch_size)
