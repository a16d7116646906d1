"""CSP / TorchSpatial ``.pth.tar`` conversion: structure, file-name hyperparameters, numerical parity.

The numerical reference below is written from csp-spec.md sections 1.2, 1.3 and 9 in plain numpy
float64 and reads the raw state-dict tensors itself; it does not call package code.
"""

import logging
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FIXTURES, fixture_path

import geoloc_embed as ge
from geoloc_embed.convert import build_model, csp
from geoloc_embed.errors import WeightsError

CSP_FILES = [
    "model_fmow_gridcell_0.0010_32_0.1000000_1_512_gelu_UNSUPER-contsoftmax_0.000050_1.000_1_0.100_TMP1.0000_"
    "1.0000_1.0000.pth.tar",
    "model_inat_2018_gridcell_0.0010_32_0.1000000_1_512_leakyrelu_UNSUPER-contsoftmax_0.000500_1.000_1_1.000_"
    "TMP20.0000_1.0000_1.0000.pth.tar",
]
TS_FILES = [
    "nerf__model_fmow_NeRF_inception_v3_0.0100_64_0.0500000_1_256.pth.tar",
    "nerf__model_yfcc_NeRF_inception_v3_0.0100_64_0.0001000_1_256.pth.tar",
    "rff__model_fmow_rff_inception_v3_0.0050_64_0.0000010_1_512_2.0.pth.tar",
    "rff__model_yfcc_rff_inception_v3_0.0010_64_0.0000010_1_512_1.0.pth.tar",
    "space2vec_grid__model_yfcc_Space2Vec-grid_inception_v3_0.0100_64_0.0050000_360.000_1_512_BATCH4096_leakyrelu"
    ".pth.tar",
    "space2vec_theory__model_fmow_Space2Vec-theory_inception_v3_0.0200_64_0.0001000_360.000_1_512_BATCH8192_"
    "leakyrelu.pth.tar",
    "space2vec_theory__model_yfcc_Space2Vec-theory_inception_v3_0.0100_64_0.0500000_360.000_1_256_BATCH4096_"
    "leakyrelu.pth.tar",
    "sphere2vec_sphereC__model_fmow_Sphere2Vec-sphereC_inception_v3_0.0050_64_0.0005000_1_512.pth.tar",
    "sphere2vec_sphereC__model_yfcc_Sphere2Vec-sphereC_inception_v3_0.0005_64_0.0001000_1_512.pth.tar",
    "sphere2vec_sphereCplus__model_fmow_Sphere2Vec-sphereC+_inception_v3_0.0050_64_0.0001000_1_512.pth.tar",
    "sphere2vec_sphereM__model_fmow_Sphere2Vec-sphereM_inception_v3_0.0050_64_0.0001000_1_512.pth.tar",
    "sphere2vec_sphereM__model_yfcc_Sphere2Vec-sphereM_inception_v3_0.0010_64_0.0005000_1_512.pth.tar",
    "tile__model_fmow_tile_ffn_inception_v3_0.00182000_32_0.0000026_1_512_leakyrelu.pth.tar",
    "wrap_ffn__model_fmow_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
    "wrap_ffn__model_yfcc_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
    "xyz__model_fmow_xyz_inception_v3_0.0050_64_0.0005000_1_512.pth.tar",
    "xyz__model_yfcc_xyz_inception_v3_0.0020_64_0.0005000_1_512.pth.tar",
]
RBF_FILES = [
    "rbf__model_fmow_rbf_inception_v3_0.0050_64_0.0005000_1_512_200_2.0.pth.tar",
    "rbf__model_yfcc_rbf_inception_v3_0.0010_64_0.0005000_1_512_200_2.0.pth.tar",
]
ALL_FILES = [("csp", f) for f in CSP_FILES] + [("torchspatial", f) for f in TS_FILES + RBF_FILES]

#: Poles, both sides of the antimeridian, the origin, ordinary cities, and the rff/tile box corners.
POINTS = np.array([
    [0.0, 90.0], [0.0, -90.0], [180.0, 0.0], [-180.0, 0.0], [180.0, 90.0], [-180.0, -90.0],
    [179.999, -89.999], [0.0, 0.0], [-0.1, 0.1], [2.3522, 48.8566], [-74.006, 40.7128],
    [151.2093, -33.8688], [-162.0, 20.0], [-59.0, 56.0], [-100.5, 38.25], [37.6173, 55.7558],
])


def _raw_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- numpy reference
def _freqs(params: dict) -> np.ndarray:
    s_num, r_min, r_max = int(params["frequency_num"]), float(params["min_radius"]), float(params["max_radius"])
    s = np.arange(s_num, dtype=np.float64)
    return 1.0 / (r_min * (r_max / r_min) ** (s / (s_num - 1)))


def _reference_features(params: dict, sd: dict, lonlat: np.ndarray) -> np.ndarray:
    """Position encoding from the spec formulas, float64, then rounded to float32 like the authors."""
    x = lonlat.astype(np.float32).astype(np.float64)  # the authors' float32 input tensor
    lon, lat = x[:, 0], x[:, 1]
    n = x.shape[0]
    enc = params["spa_enc_type"]
    if enc in ("gridcell", "Space2Vec-grid"):
        w = _freqs(params)
        ang = x[:, :, None] * w[None, None, :]  # (N, 2 coords, S)
        feats = np.stack([np.sin(ang), np.cos(ang)], axis=-1).reshape(n, -1)
    elif enc in ("theory", "Space2Vec-theory"):
        w = _freqs(params)
        a = np.array([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]])
        proj = x @ a.T  # (N, 3)
        ang = proj[:, None, :] * w[None, :, None]  # (N, S, 3)
        feats = np.stack([np.sin(ang), np.cos(ang)], axis=-1).reshape(n, -1)
    elif enc.startswith("Sphere2Vec") or enc in ("sphere", "spheregrid", "spheremixscale"):
        w = _freqs(params)
        lam, phi = np.radians(lon), np.radians(lat)
        lam_s, phi_s = lam[:, None] * w, phi[:, None] * w
        if enc in ("Sphere2Vec-sphereC", "sphere"):
            blocks = [np.sin(phi_s), np.cos(phi_s) * np.cos(lam_s), np.cos(phi_s) * np.sin(lam_s)]
        elif enc in ("Sphere2Vec-sphereC+", "spheregrid"):
            blocks = [np.sin(phi_s), np.cos(phi_s), np.sin(lam_s), np.cos(lam_s),
                      np.cos(phi_s) * np.cos(lam_s), np.cos(phi_s) * np.sin(lam_s)]
        elif enc in ("Sphere2Vec-sphereM", "spheremixscale"):
            blocks = [np.sin(phi_s), np.cos(phi_s) * np.cos(lam)[:, None], np.cos(phi)[:, None] * np.cos(lam_s),
                      np.cos(phi_s) * np.sin(lam)[:, None], np.cos(phi)[:, None] * np.sin(lam_s)]
        else:
            raise NotImplementedError(enc)
        feats = np.stack(blocks, axis=-1).reshape(n, -1)  # scale-major blocks
    elif enc in ("xyz", "NeRF"):
        lam, phi = np.radians(lon), np.radians(lat)
        xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)
        if enc == "xyz":
            feats = xyz
        else:
            levels = np.pi * 2.0 ** np.arange(16)
            ang = xyz[:, :, None] * levels[None, None, :]  # (N, 3, 16)
            feats = np.concatenate([np.sin(ang).reshape(n, -1), np.cos(ang).reshape(n, -1)], axis=1)
    elif enc in ("wrap_ffn", "geo_net_fft"):
        u = np.stack([lon / 180.0, lat / 90.0], axis=1)
        feats = np.concatenate([np.sin(np.pi * u), np.cos(np.pi * u)], axis=1)
    elif enc == "rff":
        feats = _reference_rff(params["map_range"], sd["spa_enc.position_encoder.dirvec"].numpy(),
                               sd["spa_enc.position_encoder.shift"].numpy(), x)
    elif enc == "tile_ffn":
        table = sd["spa_enc.position_encoder.embedding.weight"].double().numpy()
        assert table.shape[0] == 1  # the upstream one-cell defect (csp-spec 9 item 13)
        feats = np.repeat(table[:1], n, axis=0)
    else:
        raise NotImplementedError(enc)
    return feats.astype(np.float32).astype(np.float64)


def _reference_rff(map_range, dirvec: np.ndarray, shift: np.ndarray, x: np.ndarray) -> np.ndarray:
    """TorchSpatial's rff arithmetic step by step (csp-spec 9 item 11): ``coord_normalize`` in float64
    ((x - min) * 1.0 / (max - min), then * 2 - 1), cast to float32, then the float32 matrix product
    with ``dirvec``, + ``shift`` and cos, times sqrt(2 / D), all in float32 (numpy float32 arrays)."""
    x_min, x_max, y_min, y_max = (float(v) for v in map_range)
    u = np.stack([(x[:, 0] - x_min) * 1.0 / (x_max - x_min) * 2 - 1,
                  (x[:, 1] - y_min) * 1.0 / (y_max - y_min) * 2 - 1], axis=1).astype(np.float32)
    dirvec, shift = dirvec.astype(np.float32), shift.astype(np.float32)
    phase = u @ dirvec + shift                                   # float32 (numpy's BLAS sgemm)
    assert phase.dtype == np.float32
    return np.float32(math.sqrt(2.0 / dirvec.shape[1])) * np.cos(phase)


_erf = np.vectorize(math.erf)


def _act(name: str, x: np.ndarray) -> np.ndarray:
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


def _reference_embedding(params: dict, sd: dict, lonlat: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(embedding, logits, |embedding terms|, |logit terms|) of the CSP FFN in eval mode (spec 1.2, 9 items 2-5).

    The two magnitudes are sum_j |w_ij x_j| + |b_i| of the last sums: the scale of float32 rounding.
    """
    prefix = "loc_enc." if any(k.startswith("loc_enc.") for k in sd) else ""
    h = _reference_features(params, {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}, lonlat)
    n_layers = len({k.split(".")[3 + (1 if prefix else 0)] for k in sd
                    if k.startswith(prefix + "spa_enc.ffn.layers.") and k.endswith("linear.weight")})
    for i in range(n_layers):
        w = sd[f"{prefix}spa_enc.ffn.layers.{i}.linear.weight"].double().numpy()
        b = sd[f"{prefix}spa_enc.ffn.layers.{i}.linear.bias"].double().numpy()
        out = _act(params["spa_f_act"], h @ w.T + b)
        magnitude = np.abs(h) @ np.abs(w).T + np.abs(b)
        if i < n_layers - 1:
            if out.shape == h.shape and params.get("skip_connection", True):
                out = out + h
            g = sd[f"{prefix}spa_enc.ffn.layers.{i}.layernorm.weight"].double().numpy()
            beta = sd[f"{prefix}spa_enc.ffn.layers.{i}.layernorm.bias"].double().numpy()
            mu = out.mean(axis=1, keepdims=True)
            var = out.var(axis=1, keepdims=True)
            out = (out - mu) / np.sqrt(var + 1e-5) * g + beta
        h = out
    class_emb = sd[f"{prefix}class_emb.weight"].double().numpy()
    return h, h @ class_emb.T, magnitude, np.abs(h) @ np.abs(class_emb).T


PARITY = [("csp", f) for f in CSP_FILES] + [("torchspatial", f) for f in TS_FILES]
#: The edge points and 2,000 uniform ones (most far outside the rff boxes: large phases).
PARITY_POINTS = np.concatenate([POINTS, np.random.default_rng(7).uniform([-180.0, -90.0], [180.0, 90.0], (2000, 2))])


def _id(name: str) -> str:
    return name.replace("model_", "").split(".pth")[0][:48]


@pytest.mark.parametrize("folder,name", PARITY, ids=[_id(n) for _, n in PARITY])
def test_numerical_parity(folder, name):
    path = fixture_path(folder, name)
    raw = _raw_checkpoint(path)
    params, sd = raw["params"], raw["state_dict"]
    expected_emb, expected_logits, emb_scale, logit_scale = _reference_embedding(params, sd, PARITY_POINTS)

    model = ge.LocationEncoder.from_pretrained(path)
    assert not model.training
    emb = model.encode(PARITY_POINTS, order="lonlat")
    logits = model.logits(PARITY_POINTS, order="lonlat")
    assert emb.dtype == np.float32 and emb.shape == expected_emb.shape
    # Within 1e-5 of the output scale: |error| <= 1e-5 * max(1, max |row|) (+ the float32 rounding of the
    # last sum where it cancels). float32 cannot do better on logits of magnitude ~100; a wrong float64/
    # float32 step in the encoding (csp-spec 9 item 1) gives errors of ~1e-2 and fails this.
    # rff: the reference repeats the authors' float32 steps (``_reference_rff``), so only the network's
    # float32 rounding remains (measured <= 2.6e-6 of the row scale on 5,000 random points, as for the
    # families whose encoding is float64): 4e-6. A float64 phase, as before, is off by 2.9e-5 and fails.
    relative = 4e-6 if params["spa_enc_type"] == "rff" else 1e-5
    eps32 = float(np.finfo(np.float32).eps)
    for ours, ref, scale in ((emb, expected_emb, emb_scale), (logits, expected_logits, logit_scale)):
        err = np.abs(ours - ref)
        bound = relative * np.maximum(1.0, np.abs(ref).max(axis=1, keepdims=True)) + 2 * eps32 * scale
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        assert np.all(err <= bound), (f"max error {err.max():.3g}; at {worst}: {ours[worst]} vs {ref[worst]} "
                                      f"(bound {bound[worst]:.3g})")
        assert np.median(err / np.maximum(1.0, np.abs(ref).max(axis=1, keepdims=True))) < 2e-6
    # latlon order gives the same numbers
    np.testing.assert_array_equal(model.encode(np.ascontiguousarray(PARITY_POINTS[:, ::-1]), order="latlon"), emb)


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("folder,name", [(f, n) for f, n in ALL_FILES if n not in RBF_FILES])
def test_structure(folder, name):
    path = fixture_path(folder, name)
    raw = _raw_checkpoint(path)
    sd = raw["state_dict"]
    unprefixed = {k[len("loc_enc."):]: v for k, v in sd.items() if k.startswith("loc_enc.")} or sd
    config, state = csp.convert(path)
    first = unprefixed["spa_enc.ffn.layers.0.linear.weight"]
    # feature width = first linear in-dim; classes = class_emb rows; embedding = last linear out-dim
    assert csp.feature_dim(config.position_encoder, config) == first.shape[1]
    assert config.num_classes == unprefixed["class_emb.weight"].shape[0]
    assert config.num_classes == raw["params"]["num_classes"]
    assert config.embed_dim == raw["params"]["num_filts"] == 256
    assert config.hidden_dim == first.shape[0] == raw["params"]["hidden_dim"]
    assert config.num_hidden_layers == raw["params"]["num_hidden_layer"]
    assert config.activation == raw["params"]["spa_f_act"]
    assert not any(k.startswith(("img_dec", "user_emb", "loc_enc")) for k in state)
    assert torch.equal(state["class_head.weight"], unprefixed["class_emb.weight"])
    model = build_model(config, state, source=path)
    assert set(model.state_dict()) == set(state)


def test_nerf_uses_16_levels_whatever_params_say():
    config, _ = csp.convert(fixture_path("torchspatial", TS_FILES[0]))
    assert config.position_encoder == "nerf" and config.nerf_levels == 16
    assert csp.feature_dim("nerf", config) == 96


def test_rff_keeps_map_range_and_buffers():
    path = fixture_path("torchspatial", TS_FILES[2])
    raw = _raw_checkpoint(path)
    config, state = csp.convert(path)
    assert config.map_range == tuple(float(v) for v in raw["params"]["map_range"]) == (-162.0, -59.0, 20.0, 56.0)
    assert torch.equal(state["position_encoder.dirvec"], raw["state_dict"]["spa_enc.position_encoder.dirvec"])
    assert torch.equal(state["position_encoder.shift"], raw["state_dict"]["spa_enc.position_encoder.shift"])


def test_wrap_ffn_ignores_map_range():
    config, _ = csp.convert(fixture_path("torchspatial", TS_FILES[13]))
    assert config.position_encoder == "wrap" and config.network == "csp-ffn"
    assert config.map_range == (-180.0, 180.0, -90.0, 90.0)


def test_tile_defect_reproduced_and_documented(caplog):
    path = fixture_path("torchspatial", TS_FILES[12])
    with caplog.at_level(logging.WARNING, logger="geoloc_embed.convert.csp"):
        model = ge.LocationEncoder.from_pretrained(path)
    assert "single cell" in caplog.text
    emb = model.encode(POINTS)
    np.testing.assert_allclose(emb, np.repeat(emb[:1], len(POINTS), axis=0), rtol=0, atol=0)
    assert "tile" in (csp.__doc__ or "") and "one" in (csp.__doc__ or "")


@pytest.mark.parametrize("name", RBF_FILES)
def test_rbf_refused_clearly(name):
    path = fixture_path("torchspatial", name)
    raw = csp.load_checkpoint(path)  # loads under the numpy allow-list
    assert raw["params"]["spa_enc_type"] == "rbf"
    with pytest.raises(WeightsError, match="anchors") as info:
        csp.convert(path)
    assert name in str(info.value)


# --------------------------------------------------------------------------- both key layouts
def _csp_fixture():
    return fixture_path("csp", CSP_FILES[1])


def test_both_key_layouts_map_to_the_same_model():
    raw = _raw_checkpoint(_csp_fixture())
    sd = raw["state_dict"]
    assert any(k.startswith("loc_enc.") for k in sd) and "img_dec.weight" in sd
    only_unprefixed = {k: v for k, v in sd.items() if not k.startswith("loc_enc.")}
    only_prefixed = {k: v for k, v in sd.items() if k.startswith("loc_enc.") or k.startswith("img_dec.")}
    outs = []
    for layout in (sd, only_unprefixed, only_prefixed):
        config, state = csp.convert_checkpoint({"params": raw["params"], "state_dict": layout})
        outs.append((config, state))
    for config, state in outs[1:]:
        assert config == outs[0][0]
        assert set(state) == set(outs[0][1])
        assert all(torch.equal(state[k], outs[0][1][k]) for k in state)


def test_inconsistent_duplicates_rejected():
    raw = _raw_checkpoint(_csp_fixture())
    sd = dict(raw["state_dict"])
    sd["class_emb.weight"] = sd["class_emb.weight"] + 1
    with pytest.raises(WeightsError, match="differ"):
        csp.convert_checkpoint({"params": raw["params"], "state_dict": sd})


def test_encoder_type_spellings():
    raw = _raw_checkpoint(_csp_fixture())
    for spelling in ("gridcell", "Space2Vec-grid", "gridcellnorm"):
        params = dict(raw["params"], spa_enc_type=spelling)
        config, _ = csp.convert_checkpoint({"params": params, "state_dict": raw["state_dict"]})
        assert config.position_encoder == "grid"
    for csp_name, ts_name in [("theory", "Space2Vec-theory"), ("sphere", "Sphere2Vec-sphereC"),
                              ("spheregrid", "Sphere2Vec-sphereC+"), ("spheremixscale", "Sphere2Vec-sphereM"),
                              ("geo_net_fft", "wrap_ffn")]:
        assert csp.ENCODER_TYPES[csp_name] == csp.ENCODER_TYPES[ts_name]


def test_wrap_network_chosen_by_keys():
    """TorchSpatial's plain "wrap" type is read by its keys: FFN keys give wrap + csp-ffn."""
    raw = _raw_checkpoint(fixture_path("torchspatial", TS_FILES[13]))
    params = dict(raw["params"], spa_enc_type="wrap")
    config, _ = csp.convert_checkpoint({"params": params, "state_dict": raw["state_dict"]})
    assert (config.position_encoder, config.network) == ("wrap", "csp-ffn")


def test_geo_net_fcnet_layout():
    """geo_prior's FCNet keys (feats.*) map onto the fcnet network with wrap features."""
    torch.manual_seed(0)
    width, classes = 32, 5
    sd = {"feats.0.weight": torch.randn(width, 4), "feats.0.bias": torch.randn(width),
          "class_emb.weight": torch.randn(classes, width), "user_emb.weight": torch.randn(1, width)}
    for k in range(2, 6):
        for w in ("w1", "w2"):
            sd[f"feats.{k}.{w}.weight"] = torch.randn(width, width) / 4
            sd[f"feats.{k}.{w}.bias"] = torch.randn(width) / 4
    params = {"spa_enc_type": "geo_net", "num_filts": width, "dropout": 0.5, "loc_encode": "encode_cos_sin",
              "use_date_feats": False, "spa_f_act": "relu"}
    config, state = csp.convert_checkpoint({"params": params, "state_dict": sd})
    assert (config.position_encoder, config.network, config.num_hidden_layers, config.embed_dim) == \
        ("wrap", "fcnet", 4, width)
    model = build_model(config, state)
    # numpy reference: Linear -> ReLU -> 4 x (x + relu(W2 relu(W1 x)))
    x = POINTS.astype(np.float32).astype(np.float64)
    u = np.stack([x[:, 0] / 180, x[:, 1] / 90], axis=1)
    h = np.concatenate([np.sin(np.pi * u), np.cos(np.pi * u)], axis=1).astype(np.float32).astype(np.float64)
    h = np.maximum(h @ sd["feats.0.weight"].double().numpy().T + sd["feats.0.bias"].double().numpy(), 0)
    for k in range(2, 6):
        y = np.maximum(h @ sd[f"feats.{k}.w1.weight"].double().numpy().T + sd[f"feats.{k}.w1.bias"].double().numpy(), 0)
        y = np.maximum(y @ sd[f"feats.{k}.w2.weight"].double().numpy().T + sd[f"feats.{k}.w2.bias"].double().numpy(), 0)
        h = h + y
    np.testing.assert_allclose(model.encode(POINTS), h, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- file names vs params
@pytest.mark.parametrize("folder,name", ALL_FILES)
def test_file_name_hyperparameters_match_params(folder, name):
    path = fixture_path(folder, name)
    params = csp.load_checkpoint(path)["params"]
    decoded = csp.parse_model_file_name(name)
    assert decoded["dataset"] == params["dataset"]
    assert decoded["spa_enc_type"] == params["spa_enc_type"]
    tolerances = {"lr": 5e-5, "min_radius": 5e-8, "max_radius": 5e-4, "unsuper_lr": 5e-7,
                  "rand_sample_weight": 5e-4, "simcse_weight": 5e-4, "unsuper_temp_inbatch": 5e-5,
                  "unsuper_temp_negloc": 5e-5, "unsuper_temp_simcse": 5e-5, "dropout": 0.05,
                  "rbf_kernel_size": 0.05}
    exact = ("frequency_num", "num_hidden_layer", "hidden_dim", "batch_size", "num_filts", "spa_f_act",
             "num_neg_rand_loc", "num_rbf_anchor_pts", "cnn_model", "unsuper_loss")
    checked = 0
    for key, value in decoded.items():
        if key in tolerances:
            assert abs(float(params[key]) - value) <= tolerances[key], (key, params[key], value)
            checked += 1
        elif key in exact:
            assert params[key] == value, (key, params[key], value)
            checked += 1
    assert checked >= 8
    if folder == "csp":  # the authors' UNSUPER checkpoints carry their own name in params
        assert decoded["unsupervised_checkpoint"] is True
        # the released fMoW name lacks the "inception_v3_" tag that params' copy carries (the release
        # was named by an older make_model_file_param_args): compare the decoded fields instead.
        from_params = csp.parse_model_file_name(os.path.basename(params["unsuper_model_file_name"]))
        from_params.pop("cnn_model", None)
        assert from_params == decoded
    else:
        assert os.path.basename(params["model_file_name"]) == name.split("__", 1)[1]


def test_parse_model_file_name_rejects_garbage():
    with pytest.raises(ValueError):
        csp.parse_model_file_name("weights.pth.tar")


# --------------------------------------------------------------------------- bad files
def test_not_a_checkpoint_dict(tmp_path):
    bad = tmp_path / "list.pth.tar"
    torch.save([torch.zeros(2)], bad)
    with pytest.raises(WeightsError, match=r"list\.pth\.tar.*state_dict"):
        csp.convert(bad)
    no_params = tmp_path / "noparams.pth.tar"
    torch.save({"state_dict": {}}, no_params)
    with pytest.raises(WeightsError, match="params"):
        csp.convert(no_params)


def test_truncated_file(tmp_path):
    data = _csp_fixture().read_bytes()
    cut = tmp_path / CSP_FILES[1]
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupted") as info:
        csp.convert(cut)
    assert str(cut) in str(info.value)


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["GEOLOC_EMBED_CACHE"]).parent / "pwned",))


class _Custom:
    pass


def test_disallowed_globals_never_execute(tmp_path):
    marker = Path(os.environ["GEOLOC_EMBED_CACHE"]).parent / "pwned"
    evil = tmp_path / "evil.pth.tar"
    with open(evil, "wb") as handle:
        pickle.dump({"state_dict": {}, "params": {"x": _Evil()}}, handle, protocol=2)
    with pytest.raises(WeightsError, match="refuses to load"):
        csp.convert(evil)
    assert not marker.exists()
    custom = tmp_path / "custom.pth.tar"
    torch.save({"state_dict": {}, "params": {"x": _Custom()}}, custom)
    with pytest.raises(WeightsError, match="custom.pth.tar"):
        csp.convert(custom)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        csp.convert(tmp_path / "nope.pth.tar")


def test_fixture_dir_constant():
    assert FIXTURES.name == "fixtures"
