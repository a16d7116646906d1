"""Geo-prior API: ``LocationEncoder.prior``, ``geoloc_embed.prior.fuse`` and top-k accuracy.

Expected values are worked out by hand in the comments (csp-spec.md section 3.3: the fused score is
P_img(y | I) * sigmoid(e(x) . T_y); samples without a location keep P_img), or come from an
independent computation (a per-row stable sort, the numpy reference logits of the own fixtures).
"""

import json
import math

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed import prior as gp
from geoloc_embed.errors import GeolocEmbedError
from geoloc_embed.prior import fuse, label_rank, topk_accuracy, topk_counts

SMALL = {"frequency_num": 4, "hidden_dim": 8, "embed_dim": 4, "dropout": 0.0}


# --------------------------------------------------------------------------- fuse
def test_fuse_probs_is_the_product_hand_computed():
    p_img = np.array([[0.5, 0.4, 0.1]], dtype=np.float32)
    prior = np.array([[0.1, 0.9, 0.5]], dtype=np.float32)
    out = fuse(p_img, prior)
    # 0.5 * 0.1, 0.4 * 0.9, 0.1 * 0.5: the prior flips the argmax from class 0 to class 1
    np.testing.assert_allclose(out, [[0.05, 0.36, 0.05]], rtol=1e-6)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert int(p_img.argmax()) == 0 and int(out.argmax()) == 1


def test_fuse_logits_applies_softmax_first():
    logits = torch.tensor([[0.0, math.log(2.0), 0.0]])  # softmax: [1, 2, 1] / 4 = [0.25, 0.5, 0.25]
    prior = torch.tensor([[1.0, 0.2, 0.8]])
    out = fuse(logits, prior, image="logits")
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, torch.tensor([[0.25, 0.1, 0.2]]))  # 0.25 * 1, 0.5 * 0.2, 0.25 * 0.8
    logs = fuse(logits, prior, image="logits", log=True)
    torch.testing.assert_close(logs, torch.log(torch.tensor([[0.25, 0.1, 0.2]])))


def test_fuse_log_keeps_the_ranking_where_the_product_underflows():
    # float32: 1e-30 * 1e-20 = 1e-50 and 1e-30 * 1e-25 both underflow to 0 (a tie); the logs differ
    p_img = np.array([[1e-30, 1e-30, 1.0 - 2e-30]], dtype=np.float32)
    prior = np.array([[1e-20, 1e-25, 0.0]], dtype=np.float32)
    prod = fuse(p_img, prior)
    assert prod[0, 0] == prod[0, 1] == 0.0
    logs = fuse(p_img, prior, log=True)
    assert logs[0, 0] > logs[0, 1] > logs[0, 2] == -np.inf
    np.testing.assert_allclose(logs[0, :2], [math.log(1e-50), math.log(1e-55)], rtol=1e-5)
    assert label_rank(logs, np.array([0])).tolist() == [0]


def test_rows_without_location_keep_the_image_scores():
    p_img = np.array([[0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    prior = np.array([[0.1, 0.9], [np.nan, np.nan], [0.9, 0.1]])
    out = fuse(p_img, prior)  # the all-NaN row means "no location"
    np.testing.assert_allclose(out, [[0.06, 0.36], [0.3, 0.7], [0.18, 0.08]])
    assert out.dtype == np.float64  # float64 in, float64 out
    # an explicit mask: row 2's prior is ignored, whatever it holds
    masked = fuse(p_img, np.nan_to_num(prior, nan=5.0), has_location=np.array([True, False, False]))
    np.testing.assert_allclose(masked, [[0.06, 0.36], [0.3, 0.7], [0.2, 0.8]])
    np.testing.assert_allclose(fuse(p_img, prior, log=True), np.log(out))


def test_fuse_keeps_the_kind_of_the_image_scores():
    p_img = torch.tensor([[0.5, 0.5]])
    out = fuse(p_img, np.array([[0.2, 0.4]], dtype=np.float32))  # numpy prior, torch image -> torch
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[0.1, 0.2]]))
    out = fuse(p_img.numpy(), torch.tensor([[0.2, 0.4]]))
    assert isinstance(out, np.ndarray)
    half = fuse(p_img.half(), torch.tensor([[0.2, 0.4]]).half())
    assert half.dtype == torch.float32  # half inputs are computed in float32


@pytest.mark.parametrize("kwargs, match", [
    ({"image_scores": [[2.0, -1.0]]}, "image='logits'"),
    ({"location_prior": [[0.5, 3.0]]}, "enc.prior"),
    ({"location_prior": [[0.5, np.nan]]}, "row 0 holds NaN"),
    ({"location_prior": [[0.5, 0.5, 0.5]]}, "same class order"),
    ({"image_scores": [[np.nan, 0.5]]}, "NaN"),
    ({"image": "softmax"}, "'probs' or 'logits'"),
    ({"has_location": [1, 0]}, "bool mask"),
])
def test_fuse_errors_name_the_problem(kwargs, match):
    args = {"image_scores": [[0.5, 0.5]], "location_prior": [[0.5, 0.5]], **kwargs}
    args = {k: np.asarray(v) if isinstance(v, list) else v for k, v in args.items()}
    with pytest.raises(ValueError, match=match):
        fuse(args.pop("image_scores"), args.pop("location_prior"), **args)


# --------------------------------------------------------------------------- top-k
def test_topk_hand_computed_with_ties():
    scores = np.array([[0.1, 0.5, 0.4],    # label 2: one class above (0.5) -> rank 1
                       [0.3, 0.3, 0.4],    # label 1: 0.4 above, class 0 tied with a lower index -> rank 2
                       [0.2, 0.2, 0.2]])   # label 0: all tied, lowest index -> rank 0
    labels = np.array([2, 1, 0])
    assert label_rank(scores, labels).tolist() == [1, 2, 0]
    assert topk_counts(scores, labels, (1, 2, 3)) == {1: 1, 2: 2, 3: 3}
    acc = topk_accuracy(scores, labels, k=(1, 2, 3, 10))
    assert acc == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3), 3: 1.0, 10: 1.0}
    # the tie rule both ways: in row 1 label 0 wins its tie with class 1 (rank 1), label 1 loses it (rank 2)
    assert label_rank(scores[1:2], [0]).tolist() == [1]
    assert topk_accuracy(scores, labels, k=1) == {1: pytest.approx(1 / 3)}


def test_top1_is_first_occurrence_argmax_and_ranks_match_a_stable_sort():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(500, 7)).astype(np.float32)  # many ties
    labels = rng.integers(0, 7, size=500)
    assert topk_accuracy(scores, labels, k=1)[1] == pytest.approx(np.mean(scores.argmax(1) == labels))
    # independent ranking: sort each row by (-score, class index), find the label
    expected = [int(np.where(np.lexsort((np.arange(7), -row)) == y)[0][0])
                for row, y in zip(scores, labels, strict=True)]
    assert label_rank(scores, labels).tolist() == expected
    t = torch.from_numpy(scores)
    assert label_rank(t, torch.from_numpy(labels)).tolist() == expected  # torch in, same answer


def test_label_rank_blocks_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(1)
    scores, labels = rng.random((300, 11)), rng.integers(0, 11, 300)
    whole = label_rank(scores, labels)
    monkeypatch.setattr(gp, "_RANK_BLOCK", 23)  # 2 rows per block
    assert torch.equal(label_rank(scores, labels), whole)


@pytest.mark.parametrize("scores, labels, k, match", [
    ([[0.1, 0.9]], [2], 1, r"labels must be in \[0, 2\)"),
    ([[0.1, 0.9]], [-1], 1, "drop unknown labels"),
    ([[0.1, np.nan]], [0], 1, "NaN"),
    ([[0.1, 0.9]], [0.0], 1, "integer class indices"),
    ([[0.1, 0.9]], [0, 1], 1, r"\(1,\)"),
    ([[0.1, 0.9]], [0], 0, "positive integer"),
    ([[0.1, 0.9]], [0], (1, True), "positive integer"),
])
def test_topk_errors(scores, labels, k, match):
    with pytest.raises(ValueError, match=match):
        topk_accuracy(np.array(scores), np.array(labels), k=k)


# --------------------------------------------------------------------------- LocationEncoder.prior
def test_prior_is_the_sigmoid_of_logits():
    enc = ge.LocationEncoder({**SMALL, "num_classes": 5})
    pts = np.array([[2.35, 48.86], [-74.0, 40.7], [151.2, -33.9]])
    logits = enc.logits(pts).astype(np.float64)
    p = enc.prior(pts)
    assert p.shape == (3, 5) and p.dtype == np.float32
    np.testing.assert_allclose(p, 1.0 / (1.0 + np.exp(-logits)), rtol=1e-6, atol=1e-7)
    # the same options as logits
    # (a batch of 1 row may round a last bit differently in the matmuls)
    np.testing.assert_allclose(enc.prior(pts[:, ::-1], order="latlon", batch_size=1), p, rtol=1e-5)
    assert enc.prior(pts, dtype=torch.float64).dtype == np.float64
    out = np.zeros((3, 5), dtype=np.float32)
    assert enc.prior(pts, out=out) is out and np.array_equal(out, p)


def test_prior_without_a_head_says_so():
    enc = ge.LocationEncoder(SMALL)
    with pytest.raises(GeolocEmbedError, match="no class head"):
        enc.prior([[0.0, 0.0]])


def test_prior_matches_the_numpy_reference_on_an_own_fixture():
    from csp_layout import FIXTURE_SET

    item = next(f for f in FIXTURE_SET if f.convertible and f.name.startswith("space2vec_grid__"))
    expected = np.load(item.expected_path, allow_pickle=False)
    enc = ge.LocationEncoder.from_pretrained(str(item.path))
    p = enc.prior(expected["points"])
    ref = 1.0 / (1.0 + np.exp(-expected["logits"]))  # float64 sigmoid of the independent float64 logits
    # |d sigmoid| <= |d logit| / 4, and the float32 logits are within ~1e-6 of their terms' scale
    tol = 1e-6 * expected["logit_terms"] + 1e-7
    assert np.all(np.abs(p - ref) <= tol), float(np.abs(p - ref).max())


def test_evaluate_uses_the_public_fusion():
    """The trainer's fused top-k equals topk_accuracy(fuse(P_img, enc.prior(x))), ties included."""
    from geoloc_embed.trainer import GeoDataset, evaluate

    enc = ge.LocationEncoder({**SMALL, "num_classes": 4})
    rng = np.random.default_rng(2)
    locs = np.column_stack([rng.uniform(-180, 180, 40), rng.uniform(-80, 80, 40)]).astype(np.float32)
    locs[[3, 17]] = np.nan
    labels = rng.integers(0, 4, 40)
    probs = rng.dirichlet(np.ones(4), 40).astype(np.float32)
    probs[5] = 0.25  # an all-tie row
    out = evaluate(enc, GeoDataset(locations=torch.from_numpy(locs), labels=torch.from_numpy(labels),
                                   image_probs=torch.from_numpy(probs)), topk=(1, 2), batch_size=16)
    has = np.isfinite(locs).all(1)
    prior = np.full((40, 4), np.nan, dtype=np.float32)
    prior[has] = enc.prior(locs[has])
    fused = topk_accuracy(fuse(probs, prior), labels, k=(1, 2))
    image = topk_accuracy(probs, labels, k=(1, 2))
    loc = topk_accuracy(prior[has], labels[has], k=(1, 2))
    for k in (1, 2):
        assert out[f"top{k}_fused"] == pytest.approx(100 * fused[k])
        assert out[f"top{k}_image"] == pytest.approx(100 * image[k])
        assert out[f"top{k}_location"] == pytest.approx(100 * loc[k])


# --------------------------------------------------------------------------- class order documented
def test_every_class_head_says_where_its_class_order_comes_from():
    heads = [n for n in ge.list_pretrained() if ge.get_pretrained_spec(n).expected.get("num_classes")]
    assert "csp-inat-ft5" in heads and "torchspatial-xyz-yfcc" in heads
    for name in heads:
        spec = ge.get_pretrained_spec(name)
        assert spec.class_order.startswith(str(spec.expected["num_classes"])), name
    assert "category_id" in ge.get_pretrained_spec("csp-inat-ft5").class_order
    assert "class_names.csv" in ge.get_pretrained_spec("torchspatial-grid-yfcc").class_order
    assert "only known from" in ge.get_pretrained_spec("csp-fmow-ft5").class_order.lower()
    assert ge.get_pretrained_spec("csp-inat").class_order == ""  # no head, nothing to order


def test_info_and_model_card_show_the_class_order(capsys):
    from geoloc_embed.card import render_model_card
    from geoloc_embed.cli import main

    assert main(["info", "csp-fmow-ft5"]) == 0
    assert "class_order: 62 fMoW classes" in capsys.readouterr().out
    assert main(["info", "csp-fmow-ft5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["class_order"].startswith("62 fMoW")
    spec = ge.get_pretrained_spec("torchspatial-grid-yfcc")
    card = render_model_card(ge.LocationEncoderConfig.from_dict({"num_classes": 100}), spec=spec)
    assert "## Classes\n\n100 YFCC100M-GEO100 classes" in card


def test_evaluate_refuses_nan_scores():
    from geoloc_embed.trainer import GeoDataset, evaluate

    enc = ge.LocationEncoder({**SMALL, "num_classes": 2})
    with torch.no_grad():
        enc.class_head.weight[0, 0] = float("nan")
    ds = GeoDataset(locations=torch.tensor([[0.0, 0.0], [5.0, 5.0]]), labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="NaN for 2 of 2 locations.*diverged"):
        evaluate(enc, ds, topk=(1,))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_prior_fuse_and_rank_on_gpu():
    enc = ge.LocationEncoder({**SMALL, "num_classes": 3})
    pts = np.array([[2.35, 48.86], [-74.0, 40.7], [151.2, -33.9]])
    p = enc.prior(pts, device="cuda")
    np.testing.assert_allclose(p, enc.prior(pts), rtol=1e-5, atol=1e-6)
    p_img = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], device="cuda")
    fused = fuse(p_img, p)  # numpy prior moved to the image scores' device
    assert fused.device.type == "cuda"
    torch.testing.assert_close(fused.cpu(), p_img.cpu() * torch.from_numpy(p))
    labels = torch.tensor([0, 2, 1], device="cuda")
    assert label_rank(fused, labels).tolist() == label_rank(fused.cpu(), labels.cpu()).tolist()
