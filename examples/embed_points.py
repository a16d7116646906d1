"""Embed the cities in a CSV file with a location encoder and print what it produced.

Usage:
    python examples/embed_points.py [--model NAME_OR_DIR] [--input data/cities.csv] [--output emb.npy]

Without --model it uses the package's bundled default model; while none is bundled it falls back
to an untrained CSP-architecture encoder (Space2Vec grid + CSP FFN, fixed seed) and says so.
Runs offline. Prints the embedding shape and, for each city, its nearest other city in
embedding space (cosine similarity) next to its nearest city on the globe.
"""

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

import geoloc_embed as ge

HERE = Path(__file__).resolve().parent


def load_model(name: "str | None") -> "tuple[ge.LocationEncoder, str]":
    if name:
        return ge.LocationEncoder.from_pretrained(name), name
    default = getattr(ge, "DEFAULT_MODEL", None)
    if default:
        return ge.LocationEncoder.from_pretrained(default), default
    torch.manual_seed(0)
    return ge.create_model("csp-grid").eval(), "untrained CSP grid (no bundled default yet)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--input", default=str(HERE / "data" / "cities.csv"))
    parser.add_argument("--output", default=None, help="optional .npy file for the embeddings")
    args = parser.parse_args()

    with open(args.input, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [row["name"] for row in rows]
    latlon = np.array([[float(row["lat"]), float(row["lon"])] for row in rows])

    model, label = load_model(args.model)
    embeddings = model.encode(latlon, order="latlon")
    print(f"model: {label}")
    print(f"embedded {embeddings.shape[0]} points -> array {embeddings.shape} {embeddings.dtype}")

    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    lonlat = torch.as_tensor(latlon[:, ::-1].copy())
    km = ge.coords.haversine(lonlat[:, None, :], lonlat[None, :, :]).numpy()
    np.fill_diagonal(km, np.inf)
    print(f"{'city':<16} {'nearest in embedding (cosine)':<32} {'nearest on the globe':<22}")
    for i, name in enumerate(names):
        j = int(cosine[i].argmax())
        print(f"{name:<16} {f'{names[j]} ({cosine[i, j]:.2f})':<32} {names[int(km[i].argmin())]:<22}")
    print("(a cosine near 0 means unrelated places: most of these cities are thousands of km apart)")
    if args.output:
        np.save(args.output, embeddings)
        print(f"saved {args.output}")


if __name__ == "__main__":
    main()
