"""Independent numpy evaluation of CSP / TorchSpatial location encoders, written from csp-spec.md.

Sections 1.2, 1.3 and 9 of ``shared/reference/csp-spec.md`` describe what the authors' code computes;
this module reproduces it in plain numpy from the raw checkpoint tensors, without importing
``geoloc_embed``. It serves two purposes:

* the parity tests on the real third-party checkpoints (``../shared/fixtures``) recompute it on the fly;
* ``tests/fixtures/regenerate.py`` uses it to store the expected outputs of the project's own fixture
  checkpoints (``tests/fixtures/checkpoints``), which the parity tests then read on every clone.

Arithmetic (csp-spec 9 item 1): (lon, lat) degrees are rounded to float32 first (the authors' input
tensor), the position encoding is computed in float64 and rounded to float32 (the FloatTensor fed to the
network). rff follows the original's float32 steps instead (item 11): x' in float64 from the float32
input, cast to float32, then sqrt(2/D) * cos(x' @ dirvec + shift) in float32. The network is then
evaluated in float64, which is the exact value that the original's float32 network approximates; the
``*_terms`` magnitudes returned alongside bound the float32 rounding of its last sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

__all__ = ["POINTS", "Reference", "reference_features", "reference_outputs", "parity_violations"]

#: (N, 2) (lon, lat) degrees: poles, both sides of the antimeridian, the origin, ordinary cities, and the
#: corners of the regional box (-162, -59, 20, 56) of TorchSpatial's rff/tile files.
POINTS = np.array([
    [0.0, 90.0], [0.0, -90.0], [180.0, 0.0], [-180.0, 0.0], [180.0, 90.0], [-180.0, -90.0],
    [179.999, -89.999], [0.0, 0.0], [-0.1, 0.1], [2.3522, 48.8566], [-74.006, 40.7128],
    [151.2093, -33.8688], [-162.0, 20.0], [-59.0, 56.0], [-100.5, 38.25], [37.6173, 55.7558],
])

GRID = ("gridcell", "gridcellnorm", "Space2Vec-grid")
THEORY = ("theory", "Space2Vec-theory")
SPHERE_C = ("sphere", "Sphere2Vec-sphereC")
SPHERE_C_PLUS = ("spheregrid", "Sphere2Vec-sphereC+")
SPHERE_M = ("spheremixscale", "Sphere2Vec-sphereM")
WRAP = ("wrap_ffn", "geo_net_fft")


def _numpy(tensor: Any) -> np.ndarray:
    """A checkpoint tensor as a numpy array of its own dtype (torch tensors or arrays)."""
    return tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)


def _freqs(params: Mapping[str, Any]) -> np.ndarray:
    """omega_s = 1 / (r_min (r_max / r_min)^(s / (S - 1))), s = 0..S-1, float64, no 2 pi (spec 1.2)."""
    s_num, r_min, r_max = int(params["frequency_num"]), float(params["min_radius"]), float(params["max_radius"])
    s = np.arange(s_num, dtype=np.float64)
    return 1.0 / (r_min * (r_max / r_min) ** (s / (s_num - 1)))


def _rff_features(params: Mapping[str, Any], state: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """Spec 9 item 11 with the original's steps; (N, D) float32.

    TorchSpatial's ``coord_normalize`` in float64 ((x - min) * 1.0 / (max - min), then * 2 - 1), cast to
    float32, then the float32 matrix product with ``dirvec`` (numpy's BLAS sgemm, as torch's), + ``shift``
    and cos, times sqrt(2 / D), all in float32.
    """
    x_min, x_max, y_min, y_max = (float(v) for v in params["map_range"])
    scaled = np.stack([(x[:, 0] - x_min) * 1.0 / (x_max - x_min) * 2 - 1,
                       (x[:, 1] - y_min) * 1.0 / (y_max - y_min) * 2 - 1], axis=1).astype(np.float32)  # unclipped
    dirvec = _numpy(state["spa_enc.position_encoder.dirvec"]).astype(np.float32)  # (2, D)
    shift = _numpy(state["spa_enc.position_encoder.shift"]).astype(np.float32)  # (D,)
    phase = scaled @ dirvec + shift  # float32 throughout
    assert phase.dtype == np.float32
    return np.float32(math.sqrt(2.0 / dirvec.shape[1])) * np.cos(phase)


def reference_features(params: Mapping[str, Any], state: Mapping[str, Any], lonlat: np.ndarray) -> np.ndarray:
    """(N, F) float64 holding float32 values: the position encoding fed to the FFN.

    ``state`` is the unprefixed state dict (``spa_enc.*`` keys); ``lonlat`` is (N, 2) degrees.
    """
    x = np.asarray(lonlat, dtype=np.float64).astype(np.float32).astype(np.float64)  # the float32 input
    lon, lat = x[:, 0], x[:, 1]
    n = x.shape[0]
    enc = params["spa_enc_type"]
    if enc in GRID:  # raw degrees; coordinate-major, then scale, then (sin, cos) (item 6)
        ang = x[:, :, None] * _freqs(params)[None, None, :]  # (N, 2, S)
        feats = np.stack([np.sin(ang), np.cos(ang)], axis=-1).reshape(n, -1)
    elif enc in THEORY:  # three unit vectors at 0/120/240 degrees; scale-major, then k, then (sin, cos)
        a = np.array([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]])
        ang = (x @ a.T)[:, None, :] * _freqs(params)[None, :, None]  # (N, S, 3)
        feats = np.stack([np.sin(ang), np.cos(ang)], axis=-1).reshape(n, -1)
    elif enc in SPHERE_C + SPHERE_C_PLUS + SPHERE_M:  # radians times omega_s; scale-major blocks (item 8)
        w = _freqs(params)
        lam, phi = np.radians(lon), np.radians(lat)
        lam_s, phi_s = lam[:, None] * w, phi[:, None] * w
        if enc in SPHERE_C:
            blocks = [np.sin(phi_s), np.cos(phi_s) * np.cos(lam_s), np.cos(phi_s) * np.sin(lam_s)]
        elif enc in SPHERE_C_PLUS:
            blocks = [np.sin(phi_s), np.cos(phi_s), np.sin(lam_s), np.cos(lam_s),
                      np.cos(phi_s) * np.cos(lam_s), np.cos(phi_s) * np.sin(lam_s)]
        else:
            blocks = [np.sin(phi_s), np.cos(phi_s) * np.cos(lam)[:, None], np.cos(phi)[:, None] * np.cos(lam_s),
                      np.cos(phi_s) * np.sin(lam)[:, None], np.cos(phi)[:, None] * np.sin(lam_s)]
        feats = np.stack(blocks, axis=-1).reshape(n, -1)
    elif enc in ("xyz", "NeRF"):  # item 9; NeRF always has 16 levels pi 2^l (item 10)
        lam, phi = np.radians(lon), np.radians(lat)
        xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)
        if enc == "xyz":
            feats = xyz
        else:
            ang = xyz[:, :, None] * (np.pi * 2.0 ** np.arange(16))[None, None, :]  # (N, 3, 16)
            feats = np.concatenate([np.sin(ang).reshape(n, -1), np.cos(ang).reshape(n, -1)], axis=1)
    elif enc in WRAP:  # world extent, whatever params['map_range'] says (item 12)
        u = np.stack([lon / 180.0, lat / 90.0], axis=1)
        feats = np.concatenate([np.sin(np.pi * u), np.cos(np.pi * u)], axis=1)
    elif enc == "rff":
        feats = _rff_features(params, state, x)
    elif enc == "tile_ffn":  # the upstream one-cell defect (item 13): every point gets row 0
        table = _numpy(state["spa_enc.position_encoder.embedding.weight"]).astype(np.float64)
        if table.shape[0] != 1:
            raise NotImplementedError("only TorchSpatial's one-cell tile tables are modelled here")
        feats = np.repeat(table[:1], n, axis=0)
    else:
        raise NotImplementedError(enc)
    return feats.astype(np.float32).astype(np.float64)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _activation(name: str, x: np.ndarray) -> np.ndarray:
    """Item 3: LeakyReLU slope 0.2, exact (erf) GELU."""
    if name == "leakyrelu":
        return np.where(x > 0, x, 0.2 * x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "gelu":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    raise NotImplementedError(name)


@dataclass(frozen=True)
class Reference:
    """Expected outputs for N points; every array is float64.

    embedding: (N, d) last FFN layer output (``return_feats=True``).
    logits: (N, Q) embedding @ class_emb^T.
    embedding_terms / logit_terms: same shapes, sum_j |w_ij x_j| (+ |b_i|) of the last sums, i.e. the
        scale of the float32 rounding error of each output.
    """

    embedding: np.ndarray
    logits: np.ndarray
    embedding_terms: np.ndarray
    logit_terms: np.ndarray


def reference_outputs(params: Mapping[str, Any], state_dict: Mapping[str, Any], lonlat: np.ndarray) -> Reference:
    """The CSP FFN in eval mode (spec 1.2 and 9 items 2-5) on either key layout (item 16)."""
    prefix = "loc_enc." if any(k.startswith("loc_enc.") for k in state_dict) else ""
    state = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    h = reference_features(params, state, lonlat)
    n_layers = len({k.split(".")[3] for k in state
                    if k.startswith("spa_enc.ffn.layers.") and k.endswith("linear.weight")})
    terms = np.zeros_like(h)
    for i in range(n_layers):
        w = _numpy(state[f"spa_enc.ffn.layers.{i}.linear.weight"]).astype(np.float64)
        b = _numpy(state[f"spa_enc.ffn.layers.{i}.linear.bias"]).astype(np.float64)
        out = _activation(str(params["spa_f_act"]), h @ w.T + b)
        terms = np.abs(h) @ np.abs(w).T + np.abs(b)
        if i < n_layers - 1:  # hidden layer: residual when the widths agree, then LayerNorm(eps 1e-5)
            if out.shape == h.shape and params.get("skip_connection", True):
                out = out + h
            gamma = _numpy(state[f"spa_enc.ffn.layers.{i}.layernorm.weight"]).astype(np.float64)
            beta = _numpy(state[f"spa_enc.ffn.layers.{i}.layernorm.bias"]).astype(np.float64)
            mu = out.mean(axis=1, keepdims=True)
            var = out.var(axis=1, keepdims=True)
            out = (out - mu) / np.sqrt(var + 1e-5) * gamma + beta
        h = out  # the last layer: Linear -> activation (-> dropout), never residual or LayerNorm
    class_emb = _numpy(state["class_emb.weight"]).astype(np.float64)
    return Reference(embedding=h, logits=h @ class_emb.T, embedding_terms=terms,
                     logit_terms=np.abs(h) @ np.abs(class_emb).T)


def parity_violations(ours: np.ndarray, expected: np.ndarray, terms: np.ndarray, rel: float = 1e-5) -> str:
    """'' when ``ours`` (float32 outputs) matches ``expected``, else a message naming the worst entry.

    Bound per entry: rel * max(1, max |row|) + 2 eps32 * terms. The first part is "within 1e-5 of the
    output's scale"; the second is the float32 rounding of a last sum whose terms cancel (logits of
    magnitude ~100 cannot be closer in float32). A wrong float64/float32 step in the encoding (spec 9
    item 1) or a wrong layout gives errors of 1e-3 .. 1 and fails. The median error must also stay below
    rel / 5, so that a bound met only thanks to large rows does not hide a systematic offset.
    """
    eps32 = float(np.finfo(np.float32).eps)
    if ours.shape != expected.shape:
        return f"shape {ours.shape} != expected {expected.shape}"
    err = np.abs(ours.astype(np.float64) - expected)
    row_scale = np.maximum(1.0, np.abs(expected).max(axis=1, keepdims=True))
    bound = rel * row_scale + 2 * eps32 * terms
    if not np.all(err <= bound):
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        return (f"max error {err.max():.3g}; at {worst}: {ours[worst]} vs {expected[worst]} "
                f"(bound {bound[worst]:.3g})")
    median = float(np.median(err / row_scale))
    if median >= rel / 5:
        return f"median relative error {median:.3g} >= {rel / 5:.3g}"
    return ""
