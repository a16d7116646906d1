"""Save a location encoder with save_pretrained, load it back, and check the embeddings agree.

Usage:
    python examples/save_and_reload.py [--dir DIR]

Prints the files written and the largest absolute difference between the embeddings of the
original and the reloaded model (0.0: the round trip is exact).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

import geoloc_embed as ge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="where to save (default: a temporary directory)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = ge.create_model("csp-grid", num_classes=3)
    points = np.array([[2.35, 48.86], [-74.0, 40.71], [180.0, -16.5], [0.0, 90.0]])
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.dir or tmp) / "my-encoder"
        model.save_pretrained(directory)
        print("files:", ", ".join(sorted(p.name for p in directory.iterdir())))
        reloaded = ge.LocationEncoder.from_pretrained(directory)
        diff = np.abs(reloaded.encode(points) - model.encode(points)).max()
        logit_diff = np.abs(reloaded.logits(points) - model.logits(points)).max()
    print(f"max |embedding difference| = {diff}")
    print(f"max |logit difference| = {logit_diff}")


if __name__ == "__main__":
    main()
