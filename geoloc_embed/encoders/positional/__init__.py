"""Position encoder families. Importing this package registers every family."""

from . import grid  # noqa: F401  (registers "grid")
from .base import (
    PositionEncoder,
    build_position_encoder,
    geometric_frequencies,
    list_position_encoders,
    register_position_encoder,
    sin_cos,
)

__all__ = [
    "PositionEncoder",
    "build_position_encoder",
    "geometric_frequencies",
    "list_position_encoders",
    "register_position_encoder",
    "sin_cos",
]
