"""scikit-learn: ``LocationEmbedding``, a transformer from coordinates to location-encoder features.

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from geoloc_embed.integrations.sklearn import LocationEmbedding

    model = make_pipeline(LocationEmbedding(model="csp-bluemarble"), Ridge())    # X: lon, lat columns
    pre = ColumnTransformer([("loc", LocationEmbedding(), ["lon", "lat"]), ("num", "passthrough", ["elev"])])

It follows scikit-learn's transformer API: ``fit`` (stateless: it loads the model and records
``n_features_in_`` / ``feature_names_in_`` / ``embed_dim_``), ``transform`` -> (N, D) float32,
``get_feature_names_out`` (``loc_emb0 ... loc_emb{D-1}``) and hence ``set_output(transform="pandas")``.
Input: a DataFrame with lon/lat columns (found by name, or ``lon_col``/``lat_col``), a 2-column array
in ``order``, or a geopandas GeoSeries/GeoDataFrame of points. The hyper-parameters are only the
model *reference* and options, so ``clone``, ``get_params`` and pickling work as scikit-learn expects;
the model itself is loaded lazily (once per process, see ``geoloc_embed.integrations.models``) and
is never pickled with the estimator when ``model`` is a reference.
"""

from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ..coords import find_lonlat_columns
from .models import ModelRef, load_encoder

__all__ = ["LocationEmbedding"]


def _columns(X: Any) -> Optional[list]:
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc") or (hasattr(X, "geometry") and hasattr(X, "crs")):
        return None
    return list(columns)


class LocationEmbedding(TransformerMixin, BaseEstimator):
    """Embed (lon, lat) points with a pretrained location encoder, as a scikit-learn transformer.

    Args:
        model: a registered name, model directory, ``hf-hub:`` name, a ``LocationEncoder``, or None for
            the bundled default model.
        lon_col, lat_col: DataFrame columns (default: found among lon/lng/long/longitude/x and lat/latitude/y).
        order: column order of array input, "lonlat" (default) or "latlon".
        wrap: wrap longitudes outside [-180, 180] instead of raising.
        batch_size, device, dtype: passed to ``LocationEncoder.encode``.
        feature_prefix: prefix of the output feature names.
    """

    def __init__(self, model: ModelRef = None, *, lon_col: Any = None, lat_col: Any = None, order: str = "lonlat",
                 wrap: bool = False, batch_size: int = 65536, device: Any = None, dtype: Any = None,
                 feature_prefix: str = "loc_emb") -> None:
        self.model = model
        self.lon_col = lon_col
        self.lat_col = lat_col
        self.order = order
        self.wrap = wrap
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.feature_prefix = feature_prefix

    def _encoder(self) -> Any:
        return load_encoder(self.model, device=str(self.device or "cpu"))

    def _coords(self, X: Any) -> tuple[Any, dict]:
        """(what ``encode`` reads, its keywords) for DataFrames, arrays and geometries."""
        columns = _columns(X)
        if columns is not None:
            lon, lat = find_lonlat_columns(columns, self.lon_col, self.lat_col)
            return X, {"lon_col": lon, "lat_col": lat}
        if hasattr(X, "geometry") and hasattr(X, "crs"):
            return X, {}
        if self.lon_col is not None or self.lat_col is not None:
            raise ValueError("lon_col/lat_col need a DataFrame with named columns; for an array pass order=")
        # scikit-learn's own checks (sparse input, dimensions); values are checked by the library
        array = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_features=1)
        if array.shape[1] != 2:
            raise ValueError(f"LocationEmbedding expects 2 features (lon, lat in order={self.order!r}), got "
                             f"n_features = {array.shape[1]}; pass the two coordinate columns, a DataFrame with "
                             "lon/lat columns or a GeoSeries of points")
        return array, {"order": self.order}

    def fit(self, X: Any, y: Any = None) -> "LocationEmbedding":
        """Load the model, record the input's shape and column names (nothing is learned; values are checked
        by ``transform``, which names the first bad row)."""
        coords, _ = self._coords(X)
        columns = _columns(X)
        if columns is not None:
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = len(columns) if columns is not None else (
            1 if hasattr(X, "geometry") and hasattr(X, "crs") else np.asarray(coords).shape[1])
        self.embed_dim_ = int(self._encoder().embed_dim)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(N, D) float32 embeddings of the points of ``X``."""
        check_is_fitted(self, "embed_dim_")
        coords, kwargs = self._coords(X)
        return self._encoder().encode(coords, wrap=self.wrap, batch_size=self.batch_size, device=self.device,
                                      dtype=self.dtype, **kwargs)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``[f"{feature_prefix}{i}" for i in range(embed_dim_)]`` as an object array."""
        check_is_fitted(self, "embed_dim_")
        return np.asarray([f"{self.feature_prefix}{i}" for i in range(self.embed_dim_)], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.non_deterministic = False
        tags.input_tags.two_d_array = True
        tags.input_tags.allow_nan = False
        return tags
