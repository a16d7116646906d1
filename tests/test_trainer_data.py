"""Data loading (authors' layout, arrays, Parquet), class-balanced sampling and few-shot subsets."""

import json

import numpy as np
import pytest
import torch

from geoloc_embed.trainer.data import (
    ClassBalancedSampler,
    GeoDataset,
    csp_paths,
    load_arrays,
    load_csp_split,
    load_parquet,
    stratified_subset,
    subset_cache_path,
)
from geoloc_embed.trainer.synthetic import make_synthetic_csp_data, synthetic_arrays


@pytest.fixture(scope="module")
def inat_dir(tmp_path_factory):
    return make_synthetic_csp_data(tmp_path_factory.mktemp("data"), "inat_2018", n_train=300, n_val=80,
                                   feature_dim=16, num_classes=5)


def test_layout_files_exist(inat_dir, tmp_path):
    for split in ("train", "val"):
        p = csp_paths(inat_dir.parent, "inat_2018", split)
        assert p["locations"].name == f"{split}2018_locations.json"
        assert p["features"].is_file()
    assert (inat_dir / "features_inception" / "inat2018_val_preds_sparse.npz").is_file()
    assert (inat_dir / "fewshot" / "inat2018_val_preds_sparse_ratio0.050.npz").is_file()
    fmow = make_synthetic_csp_data(tmp_path, "fmow", n_train=50, n_val=20, feature_dim=8, num_classes=3)
    assert (fmow / "feature_moco" / "fmow_val_preds.npy").is_file()
    assert (fmow / "fewshot" / "fmow_val_preds_ratio0.100.npy").is_file()
    val = load_csp_split(tmp_path, "fmow", "val", predictions="fewshot", ratio=0.1)
    assert val.num_classes == 3 and val.image_probs.shape == (20, 3)


def test_load_csp_split_joins_by_id_and_drops_missing(inat_dir):
    raw_locs = json.loads((inat_dir / "train2018_locations.json").read_text())
    coco = json.loads((inat_dir / "train2018.json").read_text())
    feats = np.load(inat_dir / "features_inception_pretrain" / "inat2018_train_pretrain_net_feats.npy")
    by_id = {r["id"]: r for r in raw_locs}
    keep = [k for k, img in enumerate(coco["images"]) if by_id[img["id"]]["lon"] is not None]
    ds = load_csp_split(inat_dir, "inat_2018", "train")
    assert len(ds) == len(keep) < 300
    assert ds.num_classes == 5 and ds.feature_dim == 16
    k = keep[7]
    img_id = coco["images"][k]["id"]
    assert ds.ids[7] == img_id
    assert ds.locations[7].tolist() == pytest.approx([by_id[img_id]["lon"], by_id[img_id]["lat"]], abs=1e-4)
    assert torch.equal(ds.features[7], torch.from_numpy(feats[k]))
    assert int(ds.labels[7]) == coco["annotations"][k]["category_id"]
    assert not torch.isnan(ds.locations).any()


def test_load_val_keeps_missing_locations_and_reads_sparse_predictions(inat_dir):
    val = load_csp_split(inat_dir, "inat_2018", "val", load_features=False, predictions="full")
    assert len(val) == 80
    assert torch.isnan(val.locations).any(dim=1).sum() > 0
    rows = val.image_probs_rows(torch.tensor([0, 5]))
    assert rows.shape == (2, 5) and rows.dtype == torch.float32
    with pytest.raises(FileNotFoundError):
        load_csp_split(inat_dir, "inat_2018", "val", predictions="fewshot", ratio=0.33)


def test_arrays_and_parquet_loaders(tmp_path):
    arr = synthetic_arrays(30, num_classes=4, feature_dim=6)
    np.savez(tmp_path / "a.npz", **arr)
    ds = load_arrays(tmp_path / "a.npz")
    assert len(ds) == 30 and ds.feature_dim == 6 and ds.num_classes == 4
    import pandas as pd

    df = pd.DataFrame({"lon": arr["locations"][:, 0], "lat": arr["locations"][:, 1], "label": arr["labels"],
                       "features": list(arr["features"])})
    df.to_parquet(tmp_path / "a.parquet")
    pq = load_parquet(tmp_path / "a.parquet")
    assert torch.allclose(pq.features, ds.features) and torch.equal(pq.labels, ds.labels)
    assert torch.allclose(pq.locations, ds.locations)


def test_class_balanced_sampler():
    labels = torch.tensor([0] * 250 + [1] * 30 + [2] * 5)
    s = ClassBalancedSampler(labels, max_per_class=100)
    assert len(s) == 135
    idx = s.epoch_indices(torch.Generator().manual_seed(0))
    assert idx.shape == (135,) and idx.unique().numel() == 135
    counts = torch.bincount(labels[idx])
    assert counts.tolist() == [100, 30, 5]
    again = s.epoch_indices(torch.Generator().manual_seed(0))
    assert torch.equal(idx, again)
    other = s.epoch_indices(torch.Generator().manual_seed(1))
    assert set(other[labels[other] == 0].tolist()) != set(idx[labels[idx] == 0].tolist())
    assert not torch.equal(idx[:20], torch.sort(idx[:20]).values)  # shuffled


@pytest.mark.parametrize("ratio", [0.05, 0.1, 0.2, 1.0])
def test_stratified_subset_counts_and_caching(tmp_path, ratio):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), [1, 5, 10, 30, 45, 250])
    rng.shuffle(labels)
    idx = stratified_subset(labels, ratio, seed=3, cache_dir=tmp_path)
    assert np.all(np.diff(idx) > 0)  # sorted, unique
    for c, n_c in enumerate([1, 5, 10, 30, 45, 250]):
        want = max(1, int(np.round(n_c * ratio))) if ratio < 1 else n_c
        assert int((labels[idx] == c).sum()) == want
    if ratio < 1:
        # round half to even: 10 * 0.05 = 0.5 -> max(1, 0); 30 * 0.05 = 1.5 -> 2; 45 * 0.1 = 4.5 -> 4
        path = subset_cache_path(tmp_path, ratio)
        assert path.name == f"train_sample_ratio{ratio:.3f}.npy" and path.parent.name == "sample_idx"
        assert np.array_equal(np.load(path), idx)
        assert np.array_equal(stratified_subset(labels, ratio, seed=99, cache_dir=tmp_path), idx)  # "fix"
        assert np.array_equal(stratified_subset(labels, ratio, seed=3), idx)  # deterministic


def test_round_half_even_cases():
    labels = np.repeat(np.arange(3), [30, 45, 50])
    idx = stratified_subset(labels, 0.05, seed=0)
    # 1.5 -> 2, 2.25 -> 2, 2.5 -> 2
    assert np.bincount(labels[idx]).tolist() == [2, 2, 2]


def test_dataset_validation():
    with pytest.raises(ValueError):
        GeoDataset(locations=torch.zeros(3, 2), labels=torch.zeros(2, dtype=torch.long))
    ds = GeoDataset(locations=torch.zeros(4, 2), labels=torch.tensor([0, 1, 2, 1]))
    assert ds.num_classes == 3 and len(ds.subset([1, 3])) == 2
