"""Fuse a location prior with an image classifier: look-alike species on different continents.

Usage:
    python examples/geo_prior_fusion.py [--epochs 20] [--seed 0]

Six synthetic species live in Gaussian ranges; two pairs of them look alike but live on different
continents (A in Europe / A' in North America, B in Australia / B' in South America), and two
others share A's and B's ranges but look different (C in Europe, D in Australia). The script

1. trains a small location prior with the package's fine-tuning loop (geo_prior's presence-absence
   loss, ``geoloc_embed.trainer.finetune``) on 600 observations per species;
2. simulates an image classifier that cannot tell the look-alikes apart (its logits favour both
   members of a pair equally) and is good on the other species;
3. scores held-out observations, 10 % of them without a location, with the image alone, the
   location alone (``enc.prior``) and fused (``geoloc_embed.prior.fuse``: P_img * prior,
   csp-spec.md section 3.3; rows without a location keep P_img);

and prints top-1 accuracy (``geoloc_embed.prior.topk_accuracy``) for each, overall and per
look-alike pair. Neither source is enough alone (the image confuses A with A', the location A
with C); fused top-1 is far above both.
"""

import argparse
import tempfile

import numpy as np
import torch

import geoloc_embed as ge
from geoloc_embed.prior import fuse, topk_accuracy
from geoloc_embed.trainer import FinetuneConfig, GeoDataset, finetune

#: (name, range centre lon, lat in degrees, spread in degrees). A/A' and B/B' look alike; C shares
#: A's range and D shares B's, but both look different from everything else.
SPECIES = [
    ("A (Europe)", 10.0, 50.0, 8.0),
    ("A' (North America)", -95.0, 40.0, 10.0),
    ("B (Australia)", 135.0, -25.0, 8.0),
    ("B' (South America)", -60.0, -15.0, 10.0),
    ("C (Europe)", 15.0, 48.0, 8.0),
    ("D (Australia)", 140.0, -28.0, 8.0),
]
LOOK_ALIKES = [(0, 1), (2, 3)]


def sample_ranges(rng: np.random.Generator, per_species: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) lon/lat degrees and (N,) species labels, ``per_species`` observations each."""
    labels = np.repeat(np.arange(len(SPECIES)), per_species)
    centre = np.array([[lon, lat] for _, lon, lat, _ in SPECIES])[labels]
    spread = np.array([s for *_, s in SPECIES])[labels, None]
    lonlat = centre + spread * rng.standard_normal((labels.size, 2))
    lonlat[:, 0] = (lonlat[:, 0] + 180.0) % 360.0 - 180.0
    lonlat[:, 1] = np.clip(lonlat[:, 1], -89.0, 89.0)
    return lonlat.astype(np.float32), labels


def image_classifier_logits(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """(N, C) logits of a simulated classifier: confident, but blind within a look-alike pair."""
    logits = rng.normal(0.0, 1.0, size=(labels.size, len(SPECIES)))
    logits[np.arange(labels.size), labels] += 4.0
    twin = np.arange(len(SPECIES))
    for a, b in LOOK_ALIKES:
        twin[a], twin[b] = b, a
    confusable = twin[labels] != labels
    logits[np.flatnonzero(confusable), twin[labels[confusable]]] += 4.0  # the twin looks just as likely
    return logits.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    train_x, train_y = sample_ranges(rng, 600)
    with tempfile.TemporaryDirectory() as tmp:
        result = finetune(FinetuneConfig(
            output_dir=tmp, pretrained="", train_sample_ratio=1.0, epochs=args.epochs, batch_size=256, lr=3e-3,
            lr_decay=0.98, max_per_class=200, progress=False, log_every=0, device="cpu", seed=args.seed,
            model={"frequency_num": 16, "min_radius": 1.0, "hidden_dim": 64, "embed_dim": 32, "dropout": 0.0}),
            train_data=GeoDataset(locations=torch.from_numpy(train_x), labels=torch.from_numpy(train_y)))
        enc = ge.LocationEncoder.from_pretrained(str(result.output_dir / "model"))
    print(f"trained a location prior on {train_y.size} observations of {len(SPECIES)} species "
          f"(geoloc_embed.trainer.finetune, {args.epochs} epochs, {enc.num_parameters():,} parameters)")

    test_x, test_y = sample_ranges(rng, 200)
    image_logits = image_classifier_logits(rng, test_y)
    has_location = rng.random(test_y.size) >= 0.1
    prior = np.full((test_y.size, len(SPECIES)), np.nan, dtype=np.float32)  # NaN row: no location
    prior[has_location] = enc.prior(test_x[has_location], order="lonlat")

    p_img = torch.softmax(torch.from_numpy(image_logits), dim=1).numpy()
    fused = fuse(image_logits, prior, image="logits")
    n_loc = int(has_location.sum())
    print(f"test: {test_y.size} images, {test_y.size - n_loc} without a location (image classifier alone)")
    image_acc = topk_accuracy(p_img, test_y, k=1)[1]
    loc_acc = topk_accuracy(prior[has_location], test_y[has_location], k=1)[1]
    fused_acc = topk_accuracy(fused, test_y, k=1)[1]
    print(f"top-1 image only:    {100 * image_acc:5.1f} %")
    print(f"top-1 location only: {100 * loc_acc:5.1f} % (the {n_loc} with a location)")
    print(f"top-1 fused:         {100 * fused_acc:5.1f} %")
    print("look-alike pair: top-1 image only -> fused")
    for a, b in LOOK_ALIKES:
        rows = np.isin(test_y, (a, b))
        before = topk_accuracy(p_img[rows], test_y[rows], k=1)[1]
        after = topk_accuracy(fused[rows], test_y[rows], k=1)[1]
        print(f"  {SPECIES[a][0]} / {SPECIES[b][0]}: {100 * before:5.1f} % -> {100 * after:5.1f} %")


if __name__ == "__main__":
    main()
