"""One representative config per position-encoder family, shared by the benchmark scripts.

Every family gets the CSP FFN (hidden 512, embedding 256, 1 hidden layer), so that each row
measures the position encoder's own cost on top of the same network; GeoCLIP's Equal-Earth RFF
gets its own three-branch MLP, as in the released model.
"""

import geoloc_embed as ge

FAMILY_OVERRIDES = {
    "spherical-harmonics": {"sh_degree": 10},
    "sphere-c": {"max_radius": 1.0, "min_radius": 0.001},
    "sphere-c-plus": {"max_radius": 1.0, "min_radius": 0.001},
    "sphere-m": {"max_radius": 1.0, "min_radius": 0.001},
    "sphere-m-plus": {"max_radius": 1.0, "min_radius": 0.001},
    "dfs": {"frequency_num": 8, "max_radius": 1.0, "min_radius": 0.001},
    "rff": {"frequency_num": 128},
    "equal-earth-rff": {"network": "mlp", "hidden_dim": 1024, "num_hidden_layers": 3, "activation": "relu",
                        "dropout": 0.0, "embed_dim": 512},
}


def representative_config(family: str) -> "ge.LocationEncoderConfig":
    """The benchmark config of ``family``."""
    return ge.LocationEncoderConfig(position_encoder=family, **FAMILY_OVERRIDES.get(family, {}))
