"""End to end on a real distributed engine: Dask ``LocalCluster``, 2 worker processes, loopback only.

A multi-file Parquet dataset of 1,000,000 points goes through ``embed_partitions`` with a small
untrained model (embed_dim 8) loaded by each worker from a model directory; the gathered result
equals ``LocationEncoder.encode`` of the same points row for row (bit for bit: the same float32
code runs in every process). The cluster listens on 127.0.0.1 only, has no dashboard, and is
closed by the test; the whole test is bounded by a timeout well under a minute of cluster time.
Throughput figures for 1 and 2 workers: ``benchmarks/engine_throughput.py``.
"""

import numpy as np
import pytest
import torch

import geoloc_embed as ge

pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

N_POINTS = 1_000_000
N_FILES = 8
TIMEOUT_S = 120  # the whole compute; about 5-15 s on 2 shared cores


@pytest.mark.slow
def test_local_cluster_two_workers_million_points(tmp_path):
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    from geoloc_embed.integrations import embeddings_to_numpy
    from geoloc_embed.integrations.dask import embed_partitions

    torch.manual_seed(0)
    model = ge.create_model("csp-grid", frequency_num=8, hidden_dim=16, embed_dim=8).eval()
    model.save_pretrained(tmp_path / "model")
    rng = np.random.default_rng(0)
    lon = rng.uniform(-180.0, 180.0, N_POINTS)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N_POINTS)))
    lon[:4], lat[:4] = [180.0, -180.0, 0.0, 179.999], [90.0, -90.0, 0.0, -0.001]
    ids = np.arange(N_POINTS)
    (tmp_path / "points").mkdir()
    bounds = np.linspace(0, N_POINTS, N_FILES + 1).astype(int)
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        pq.write_table(pa.table({"id": ids[lo:hi], "lon": lon[lo:hi], "lat": lat[lo:hi]}),
                       tmp_path / "points" / f"part-{k:02d}.parquet")

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      scheduler_kwargs={"dashboard": False}, worker_dashboard_address=None,
                      local_directory=str(tmp_path / "dask")) as cluster, Client(cluster) as client:
        assert all(address.startswith("tcp://127.0.0.1:") for address in client.scheduler_info()["workers"])
        ddf = dd.read_parquet(str(tmp_path / "points"))
        assert ddf.npartitions >= 2
        out = embed_partitions(ddf, model=str(tmp_path / "model"))
        future = client.compute(out)
        result = future.result(timeout=TIMEOUT_S)
        # each worker process loaded the model itself (from the directory, not pickled into the tasks)
        loaded = client.run(lambda: sorted(key[0] for key in __import__(
            "geoloc_embed.integrations.models", fromlist=["_CACHE"])._CACHE))
        assert len(loaded) == 2 and all(keys == [str(tmp_path / "model")] for keys in loaded.values())

    assert len(result) == N_POINTS
    result = result.sort_values("id")
    np.testing.assert_array_equal(result["id"].to_numpy(), ids)
    np.testing.assert_array_equal(result["lon"].to_numpy(), lon)
    embedding = embeddings_to_numpy(result["embedding"])
    assert embedding.dtype == np.float32 and embedding.shape == (N_POINTS, 8)
    np.testing.assert_array_equal(embedding, model.encode(np.stack([lon, lat], axis=1)))
