"""Position encoders, networks and the ``LocationEncoder`` model."""

from . import siren  # noqa: F401
from .model import LocationEncoder
from .networks import build_network, list_networks, register_network
from .positional import (
    PositionEncoder,
    build_position_encoder,
    list_position_encoders,
    register_position_encoder,
)

__all__ = [
    "LocationEncoder",
    "PositionEncoder",
    "build_network",
    "build_position_encoder",
    "list_networks",
    "list_position_encoders",
    "register_network",
    "register_position_encoder",
]
