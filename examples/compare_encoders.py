"""Compare two position-encoder families on the same points.

Usage:
    python examples/compare_encoders.py [--families grid sphere-c] [--points 2000]

For each family it embeds the same random points (uniform on the sphere, fixed seed) with an
untrained encoder and prints the embedding size and the Spearman correlation between pairwise
embedding distances and great-circle distances: how much of the globe's geometry the
untrained encoder already preserves.
"""

import argparse

import numpy as np
import torch

import geoloc_embed as ge


def rank(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["grid", "sphere-c"])
    parser.add_argument("--points", type=int, default=500)
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    lonlat = ge.coords.sample_uniform_sphere(args.points, generator=generator)
    km = ge.coords.haversine(lonlat[:, None, :], lonlat[None, :, :]).numpy()
    upper = np.triu_indices(args.points, k=1)
    for family in args.families:
        torch.manual_seed(0)  # each family with its own paper's defaults (radians for sphere-*) + CSP's FFN
        model = ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder=family))
        emb = model.encode(lonlat.numpy(), order="lonlat")
        dist = np.linalg.norm(emb[:, None, :] - emb[None, :, :], axis=-1)
        rho = np.corrcoef(rank(dist[upper]), rank(km[upper]))[0, 1]
        print(f"{family:<12} features {model.position_encoder.out_dim:>4} -> embedding {emb.shape[1]}, "
              f"spearman(embedding distance, great-circle distance) = {rho:.3f}")


if __name__ == "__main__":
    main()
