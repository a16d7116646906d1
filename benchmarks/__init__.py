"""Speed and memory benchmarks of geoloc-embed; each module prints its figures.

Run them from the repository root as modules, so that they import this checkout's ``geoloc_embed``
and their shared helpers (``benchmarks._timing``) without touching ``sys.path``::

    python -m benchmarks.encode_throughput     # encode per family, against the two-matmul ceiling
    python -m benchmarks.compare_references    # against the reference implementations
    python -m benchmarks.encode_scale          # 1M-10M points: time and memory
    python -m benchmarks.startup               # import and from_pretrained cost
    python -m benchmarks.train_throughput      # the trainer's steps against the authors' loop
    python -m benchmarks.gpu_check             # CPU vs CUDA agreement, GPU throughput
    bash benchmarks/gpu_check.sh               # the GPU check, the CUDA comparisons and tests

Numbers an issue names are measured here, never asserted as timed unit tests.
"""
