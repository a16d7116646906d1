"""Position encoder families. Importing this package registers every family."""

from . import (
    cartesian,  # noqa: F401  (registers "xyz", "nerf")
    equal_earth,  # noqa: F401  (registers "equal-earth-rff")
    grid,  # noqa: F401  (registers "grid")
    harmonics,  # noqa: F401  (registers "spherical-harmonics")
    simple,  # noqa: F401  (registers "wrap", "rbf", "rff", "tile")
    space2vec,  # noqa: F401  (registers "theory")
    sphere2vec,  # noqa: F401  (registers "sphere-c", "sphere-c-plus", "sphere-m", "sphere-m-plus", "dfs")
)
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
