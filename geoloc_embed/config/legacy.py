"""Reader of format-1 ``config.json`` files: the old flat ``LocationEncoderConfig``.

Format 1 was one flat object of 26 fields with grid/CSP defaults for every family. A format-1 dict
(no ``format_version``, or ``format_version: 1``, with a string ``position_encoder``) is read exactly
as the flat class read it: missing keys take the **old flat defaults** (so an old partial dict such as
``{"position_encoder": "sphere-c"}`` keeps its old meaning, r_min = 0.1 and r_max = 360), and then only
the fields the family and the network use are kept. Unknown keys are an error, as before.
"""

from typing import Any, Mapping

from ..errors import ConfigError
from .base import network_config_class, position_encoder_config_class

__all__ = ["V1_DEFAULTS", "read_v1"]

#: The flat format-1 fields and their defaults, verbatim from geoloc_embed 0.x's ``LocationEncoderConfig``.
V1_DEFAULTS: dict[str, Any] = {
    "position_encoder": "grid",
    "frequency_num": 32,
    "min_radius": 0.1,
    "max_radius": 360.0,
    "num_anchors": 200,
    "rbf_kernel_size": 1.0,
    "rff_sigma": 1.0,
    "map_range": (-180.0, 180.0, -90.0, 90.0),
    "nerf_levels": 16,
    "tile_size": 1.0,
    "tile_embed_dim": 256,
    "sh_degree": 10,
    "rff_sigmas": (1.0, 16.0, 256.0),
    "rff_features": 256,
    "network": "csp-ffn",
    "hidden_dim": 512,
    "num_hidden_layers": 1,
    "activation": "leakyrelu",
    "dropout": 0.5,
    "use_layernorm": True,
    "skip_connection": True,
    "embed_dim": 256,
    "siren_w0": 1.0,
    "siren_w0_initial": 30.0,
    "num_classes": 0,
    "format_version": 1,
}


def read_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``LocationEncoderConfig`` (typed sub-configs) for a format-1 dict."""
    unknown = sorted(str(k) for k in set(data) - set(V1_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown config field(s) {', '.join(unknown)}; known fields of the flat format 1 are "
            f"{', '.join(sorted(V1_DEFAULTS))}, and format 2 nests them under 'position_encoder' / 'network'. "
            "Was this config.json written by a newer geoloc_embed or by another library?")
    flat = {**V1_DEFAULTS, **data}
    for key in ("position_encoder", "network"):
        if not isinstance(flat[key], str):
            raise ConfigError(f"format-1 config: {key}={flat[key]!r} is not allowed; expected a registered name "
                              "(a string)")
    pe_class = position_encoder_config_class(flat["position_encoder"])
    net_class = network_config_class(flat["network"])
    return {
        "position_encoder": pe_class(**{k: flat[k] for k in pe_class.field_names() if k in flat}),
        "network": net_class(**{k: flat[k] for k in net_class.field_names() if k in flat}),
        "num_classes": flat["num_classes"],
    }
