"""``create_model``: an untrained ``LocationEncoder`` from a named architecture (timm-style)."""

from typing import Any

from ..architectures import architecture_config
from .model import LocationEncoder

__all__ = ["create_model"]


def create_model(name: str, **overrides: Any) -> LocationEncoder:
    """An untrained ``LocationEncoder`` of the named architecture ``name`` (``geoloc_embed.list_models()``).

    ``overrides`` change the architecture as in ``timm.create_model``: ``num_classes`` sets the class
    head, any other key goes to the position-encoder or network config that has that field, e.g.
    ``create_model("sphere2vec-sphere-m", frequency_num=32, dropout=0.1)``. Unknown or ambiguous keys
    raise ``ConfigError`` listing the valid ones. For trained weights use ``LocationEncoder.from_pretrained``.

    Example:
        >>> import geoloc_embed as ge
        >>> ge.create_model("satclip-sh-siren", num_classes=5).class_head.out_features
        5
    """
    return LocationEncoder(architecture_config(name, **overrides))
