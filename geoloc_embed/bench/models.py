"""What the benchmark embeds with: built-in baselines and anything ``LocationEncoder.from_pretrained`` loads.

Built-in baselines (always requested by ``--model baselines``):

* ``raw``: the coordinates themselves, (lon, lat) in degrees (2 features).
* ``xyz``: the unit-sphere vector (cos lat cos lon, cos lat sin lon, sin lat) (3 features).
* ``untrained-grid-ffn``: CSP's architecture (the named architecture ``csp-grid``: Space2Vec grid,
  32 scales 0.1..360 degrees, 1 x 512 FFN, 256-d) with random weights from a fixed seed; how much the
  architecture alone gives.
* ``untrained-sh-siren``: SatCLIP's architecture (``satclip-sh-siren``: spherical harmonics L = 10,
  SIREN 2 x 512, 256-d, dropout off), random weights.
* ``geoclip``: the real GeoCLIP location encoder (MIT), when the ``geoclip`` wheel is installed and
  ``geoloc_embed`` can load it.

Any other string is passed to ``LocationEncoder.from_pretrained`` (registered name, model directory,
original CSP/TorchSpatial checkpoint, ``hf-hub:org/repo``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .data import lonlat_to_xyz

__all__ = ["Embedder", "ModelUnavailable", "BASELINES", "resolve_model", "expand_model_specs"]

#: Seed of the random weights of the untrained baselines (fixed: the baseline is one model).
UNTRAINED_SEED = 0


class ModelUnavailable(Exception):
    """A model that cannot be evaluated here (missing package, family not registered, ...): it is skipped."""


@dataclass
class Embedder:
    """A named function (N, 2) [lon, lat] degrees -> (N, D) float32 embeddings."""

    name: str
    description: str
    fn: Callable[[np.ndarray], np.ndarray]
    dim: Optional[int] = None
    meta: dict = field(default_factory=dict)

    def embed(self, lonlat: np.ndarray) -> np.ndarray:
        out = np.asarray(self.fn(np.asarray(lonlat, dtype=np.float64)), dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(lonlat):
            raise ValueError(f"model {self.name}: embedding has shape {out.shape} for {len(lonlat)} points")
        return out


def _raw() -> Embedder:
    return Embedder("raw", "raw (lon, lat) degrees", lambda x: x.astype(np.float32), 2)


def _xyz() -> Embedder:
    return Embedder("xyz", "unit-sphere (x, y, z)", lambda x: lonlat_to_xyz(x).astype(np.float32), 3)


def _encoder_embedder(name: str, description: str, encoder, batch_size: int = 8192,
                      progress: bool = False) -> Embedder:
    encoder.eval()

    def fn(lonlat: np.ndarray) -> np.ndarray:
        return encoder.encode(lonlat, order="lonlat", batch_size=batch_size, progress=progress)

    return Embedder(name, description, fn, getattr(encoder, "embed_dim", None),
                    {"params": int(sum(p.numel() for p in encoder.parameters()))})


def _untrained(name: str, description: str, architecture: str, **overrides) -> Callable[[], Embedder]:
    def build() -> Embedder:
        import torch

        from ..architectures import architecture_config
        from ..encoders import LocationEncoder, list_networks, list_position_encoders

        config = architecture_config(architecture, **overrides)
        family, network = config.position_encoder.family, config.network.name
        missing = []
        if family not in list_position_encoders():
            missing.append(f"position encoder {family!r}")
        if network not in list_networks():
            missing.append(f"network {network!r}")
        if missing:
            raise ModelUnavailable(f"{name}: {' and '.join(missing)} not registered in this geoloc_embed yet")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(UNTRAINED_SEED)
            encoder = LocationEncoder(config)
        return _encoder_embedder(name, description, encoder)

    return build


def _geoclip() -> Embedder:
    import importlib.util

    if importlib.util.find_spec("geoclip") is None:
        raise ModelUnavailable("geoclip: the geoclip wheel is not installed (pip install geoclip --no-deps "
                               "gives the real MIT weights)")
    from ..encoders import LocationEncoder

    try:
        encoder = LocationEncoder.from_pretrained("geoclip", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loading failure means "skip with the reason"
        raise ModelUnavailable(f"geoclip: geoloc_embed cannot load it yet ({type(exc).__name__}: {exc})") from exc
    return _encoder_embedder("geoclip", "GeoCLIP location encoder (MIT, geoclip wheel)", encoder)


BASELINES: dict[str, Callable[[], Embedder]] = {
    "raw": _raw,
    "xyz": _xyz,
    "untrained-grid-ffn": _untrained(
        "untrained-grid-ffn", "random-init Space2Vec grid + CSP FFN (CSP architecture)", "csp-grid"),
    "untrained-sh-siren": _untrained(
        "untrained-sh-siren", "random-init spherical harmonics (L=10) + SIREN (SatCLIP architecture)",
        "satclip-sh-siren", dropout=0.0),
    "geoclip": _geoclip,
}

#: ``--model baselines`` expands to these.
DEFAULT_BASELINES = ("raw", "xyz", "untrained-grid-ffn", "untrained-sh-siren", "geoclip")


def expand_model_specs(specs: list[str]) -> list[str]:
    """Split comma-separated specs and expand ``baselines``; order kept, duplicates dropped."""
    out: list[str] = []
    for spec in specs:
        parts = [spec] if os.path.exists(spec) else [p.strip() for p in spec.split(",") if p.strip()]
        for part in parts:
            for item in (DEFAULT_BASELINES if part == "baselines" else (part,)):
                if item not in out:
                    out.append(item)
    return out


def resolve_model(spec: str) -> Embedder:
    """The embedder for a baseline name or anything ``LocationEncoder.from_pretrained`` accepts.

    Raises:
        ModelUnavailable: the model cannot be built here; the message says why (the runner skips it).
    """
    if spec in BASELINES and not os.path.exists(spec):
        return BASELINES[spec]()
    from ..encoders import LocationEncoder

    try:
        encoder = LocationEncoder.from_pretrained(spec)
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailable(f"{spec}: cannot be loaded ({type(exc).__name__}: {exc})") from exc
    name = Path(spec).name if os.path.exists(spec) else spec
    for suffix in (".pth.tar", ".pth", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return _encoder_embedder(name, f"LocationEncoder.from_pretrained({spec!r})", encoder)
