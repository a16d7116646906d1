"""PyTorch Hub entry points: ``torch.hub.load("<repo or checkout>", "location_encoder", "csp-inat")``.

``torch.hub.list(...)`` shows them. ``location_encoder`` loads any name ``LocationEncoder.from_pretrained``
takes (a registered name, a directory, a checkpoint file, ``archive.zip#member``, ``hf-hub:org/repo``);
``architecture`` builds an untrained named architecture (``geoloc_embed.list_models()``);
``csp_bluemarble`` is the bundled default model (offline).
"""

from typing import Any

from geoloc_embed import DEFAULT_MODEL, LocationEncoder, create_model

#: Checked by torch.hub before loading (the packages geoloc-embed needs).
dependencies = ["torch", "numpy", "safetensors", "huggingface_hub", "pyproj", "tqdm", "filelock"]


def location_encoder(name: str = DEFAULT_MODEL or "csp-bluemarble", **kwargs: Any) -> LocationEncoder:
    """A pretrained location encoder by name; keyword arguments go to ``LocationEncoder.from_pretrained``."""
    return LocationEncoder.from_pretrained(name, **kwargs)


def architecture(name: str, **overrides: Any) -> LocationEncoder:
    """An untrained named architecture (``geoloc_embed.list_models()``) with timm-style overrides."""
    return create_model(name, **overrides)


def csp_bluemarble(**kwargs: Any) -> LocationEncoder:
    """The bundled default: CSP grid + FFN pre-trained on NASA Blue Marble patches (offline, 256-d)."""
    return LocationEncoder.from_pretrained("csp-bluemarble", **kwargs)
