"""Typed location-encoder configs: one per position-encoder family, one per network, nested in
``LocationEncoderConfig``; ``config.json`` format 2, with a reader for format 1 (flat).

This package imports no torch and nothing from ``geoloc_embed.encoders``: encoders are built from
these configs (``geoloc_embed.encoders.build_position_encoder`` / ``build_network``).

Example:
    >>> from geoloc_embed.config import LocationEncoderConfig, GridConfig, CSPFFNConfig
    >>> config = LocationEncoderConfig(position_encoder=GridConfig(frequency_num=16),
    ...                                network=CSPFFNConfig(activation="gelu"), num_classes=10)
    >>> config.embed_dim
    256
"""

from .base import (
    NetworkConfig,
    PositionEncoderConfig,
    list_network_configs,
    list_position_encoder_configs,
    network_config,
    network_config_class,
    position_encoder_config,
    position_encoder_config_class,
    register_network_config,
    register_position_encoder_config,
)
from .model import CONFIG_FORMAT_VERSION, LocationEncoderConfig, format_version_of
from .networks import ACTIVATIONS, CSPFFNConfig, FCNetConfig, MLPConfig, SirenConfig
from .position import (
    DFSConfig,
    EqualEarthRFFConfig,
    GridConfig,
    NeRFConfig,
    RBFConfig,
    RFFConfig,
    SphereCConfig,
    SphereCPlusConfig,
    SphereMConfig,
    SphereMPlusConfig,
    SphericalHarmonicsConfig,
    TheoryConfig,
    TileConfig,
    WrapConfig,
    XYZConfig,
)

__all__ = [
    "ACTIVATIONS",
    "CONFIG_FORMAT_VERSION",
    "LocationEncoderConfig",
    "format_version_of",
    "PositionEncoderConfig",
    "NetworkConfig",
    "position_encoder_config",
    "network_config",
    "position_encoder_config_class",
    "network_config_class",
    "list_position_encoder_configs",
    "list_network_configs",
    "register_position_encoder_config",
    "register_network_config",
    # position encoders
    "GridConfig",
    "TheoryConfig",
    "SphereCConfig",
    "SphereCPlusConfig",
    "SphereMConfig",
    "SphereMPlusConfig",
    "DFSConfig",
    "WrapConfig",
    "XYZConfig",
    "NeRFConfig",
    "RBFConfig",
    "RFFConfig",
    "TileConfig",
    "SphericalHarmonicsConfig",
    "EqualEarthRFFConfig",
    # networks
    "CSPFFNConfig",
    "FCNetConfig",
    "MLPConfig",
    "SirenConfig",
]
