"""geoloc-embed: pretrained geographic location encoders for PyTorch.

The one coordinate convention inside the package is a float tensor of shape (N, 2) holding
(longitude, latitude) in degrees. Public entry points take any array-like plus an explicit
``order`` ("lonlat" or "latlon") and convert it; every encoder converts internally to what its
model was trained on.
"""

from . import coords
from ._version import __version__
from .architectures import list_models
from .config import LocationEncoderConfig
from .encoders import LocationEncoder, list_networks, list_position_encoders
from .encoders.factory import create_model
from .errors import (
    ConfigError,
    CoordinateError,
    GeolocEmbedError,
    PretrainedNotFoundError,
    UnknownModelError,
    WeightsError,
)
from .zoo import DEFAULT_MODEL, get_pretrained_spec, list_pretrained

__all__ = [
    "__version__",
    "coords",
    "LocationEncoder",
    "LocationEncoderConfig",
    "create_model",
    "list_models",
    "list_networks",
    "list_pretrained",
    "get_pretrained_spec",
    "DEFAULT_MODEL",
    "list_position_encoders",
    "GeolocEmbedError",
    "CoordinateError",
    "ConfigError",
    "UnknownModelError",
    "PretrainedNotFoundError",
    "WeightsError",
]
