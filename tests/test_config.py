import json

import pytest

from geoloc_embed import ConfigError, LocationEncoder, LocationEncoderConfig


def test_json_round_trip_keeps_tuples_and_equality():
    config = LocationEncoderConfig(position_encoder="rff", map_range=(-162.0, -59.0, 20.0, 56.0),
                                   rff_sigmas=(2.0, 4.0), num_classes=7)
    data = json.loads(config.to_json())
    assert data["map_range"] == [-162.0, -59.0, 20.0, 56.0]  # JSON has lists...
    back = LocationEncoderConfig.from_json(config.to_json())
    assert back == config  # ...and the config gets tuples back
    assert isinstance(back.map_range, tuple) and isinstance(back.rff_sigmas, tuple)


def test_unknown_field_is_rejected_with_the_field_name():
    with pytest.raises(ConfigError, match="frequency_nmu"):
        LocationEncoderConfig.from_dict({"frequency_nmu": 3})


def test_invalid_json_is_reported():
    with pytest.raises(ConfigError, match="not valid JSON"):
        LocationEncoderConfig.from_json("{not json")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"frequency_num": 0}, "frequency_num"),
        ({"embed_dim": -1}, "embed_dim"),
        ({"min_radius": 10.0, "max_radius": 1.0}, "min_radius"),
        ({"min_radius": 0.0}, "min_radius"),
        ({"dropout": 1.0}, "dropout"),
        ({"activation": "swish"}, "activation"),
        ({"map_range": (10.0, -10.0, -90.0, 90.0)}, "map_range"),
        ({"rff_sigmas": ()}, "rff_sigmas"),
        ({"num_classes": -3}, "num_classes"),
        ({"hidden_dim": True}, "hidden_dim"),
    ],
)
def test_validation_errors_name_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        LocationEncoderConfig(**changes)


def test_newer_format_version_is_refused_with_upgrade_hint():
    with pytest.raises(ConfigError, match="pip install -U geoloc-embed"):
        LocationEncoderConfig(format_version=999)


def test_unknown_family_and_network_fail_at_model_build():
    with pytest.raises(ConfigError, match="unknown position encoder 'gird'"):
        LocationEncoder(LocationEncoderConfig(position_encoder="gird"))
    with pytest.raises(ConfigError, match="unknown network"):
        LocationEncoder(LocationEncoderConfig(network="transformer"))


def test_model_accepts_a_dict_config():
    model = LocationEncoder({"position_encoder": "grid", "embed_dim": 64})
    assert model.config.embed_dim == 64 and model.embed_dim == 64
