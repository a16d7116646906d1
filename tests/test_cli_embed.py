"""``geoloc-embed embed``: datasets (partitioned, resumable, atomic), invalid-row policies, error messages, signals.

Runs that are killed use a subprocess (``python -m geoloc_embed.cli``) on a small untrained model with
tiny chunks, so a part takes long enough to be caught in flight; everything else calls ``cli.main``.
Peak memory against dataset size is measured in ``benchmarks/embed_dataset_memory.py``, not here.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from geoloc_embed import cli

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

from geoloc_embed.cli.embed_dataset import METADATA_KEY, ROWS_KEY  # noqa: E402
from geoloc_embed.integrations import embeddings_to_numpy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def make_dataset(directory: Path, files: int, rows: int, seed: int = 0) -> np.ndarray:
    """``files`` Parquet files of ``rows`` points (id, name, lon, lat) under ``directory`` (one in a subfolder)."""
    rng = np.random.default_rng(seed)
    lonlat = np.stack([rng.uniform(-180, 180, files * rows), rng.uniform(-89, 89, files * rows)], axis=1)
    for k in range(files):
        block = slice(k * rows, (k + 1) * rows)
        target = directory / ("region=b" if k == files - 1 else "region=a") / f"part-{k:02d}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"id": np.arange(files * rows)[block], "name": [f"p{i}" for i in range(rows)],
                                 "lon": lonlat[block, 0], "lat": lonlat[block, 1]}), target)
    return lonlat


def read_dataset(directory: Path):
    parts = sorted(p for p in directory.rglob("*.parquet"))
    table = pa.concat_tables([pq.read_table(p) for p in parts])
    return table, parts


def hidden_files(directory: Path) -> list:
    return [p for p in directory.rglob(".*") if p.is_file()]


def embed_args(model, source, target, *extra):
    return ["embed", "-m", str(model), "-i", str(source), "-o", str(target), "--no-progress", *extra]


def run_cli_process(args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "geoloc_embed.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


# --------------------------------------------------------------------------- datasets
def test_dataset_directory_to_partitioned_dataset(tmp_path, tiny_model_dir, capsys):
    path, model = tiny_model_dir
    lonlat = make_dataset(tmp_path / "in", files=3, rows=50)
    out = tmp_path / "out"
    assert cli.main(embed_args(path, tmp_path / "in", out, "--chunk-rows", "16")) == 0, capsys.readouterr().err
    table, parts = read_dataset(out)
    assert [p.relative_to(out).as_posix() for p in parts] == [
        "region=a/part-00.parquet", "region=a/part-01.parquet", "region=b/part-02.parquet"]
    assert table.column_names == ["id", "name", "lon", "lat", "embedding"]
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 6)
    np.testing.assert_array_equal(table.column("id").to_numpy(), np.arange(150))
    np.testing.assert_array_equal(embeddings_to_numpy(table.column("embedding")), model.encode(lonlat))
    record = pq.ParquetFile(parts[0]).metadata.metadata
    assert METADATA_KEY.encode() in record and record[ROWS_KEY.encode()] == b"50"
    assert not hidden_files(out)
    # a rerun finds every part finished and rewrites nothing
    stamps = [p.stat().st_mtime_ns for p in parts]
    assert cli.main(embed_args(path, tmp_path / "in", out)) == 0
    assert "3 already done, 0 written" in capsys.readouterr().err
    assert [p.stat().st_mtime_ns for p in parts] == stamps


def test_dataset_glob_rows_per_part_and_float16(tmp_path, tiny_model_dir):
    path, model = tiny_model_dir
    lonlat = make_dataset(tmp_path / "in", files=2, rows=25)
    out = tmp_path / "out"
    pattern = str(tmp_path / "in" / "region=a" / "*.parquet")
    assert cli.main(embed_args(path, pattern, out, "--rows-per-part", "10", "--out-dtype", "float16",
                               "--chunk-rows", "7")) == 0
    table, parts = read_dataset(out)
    assert [p.name for p in parts] == ["part-00-00000.parquet", "part-00-00001.parquet", "part-00-00002.parquet"]
    assert [pq.ParquetFile(p).metadata.num_rows for p in parts] == [10, 10, 5]
    assert table.schema.field("embedding").type == pa.list_(pa.float16(), 6)
    np.testing.assert_array_equal(embeddings_to_numpy(table.column("embedding")),
                                  model.encode(lonlat[:25]).astype(np.float16))


def test_corrupt_and_short_parts_are_redone(tmp_path, tiny_model_dir, capsys):
    path, model = tiny_model_dir
    lonlat = make_dataset(tmp_path / "in", files=3, rows=40)
    out = tmp_path / "out"
    assert cli.main(embed_args(path, tmp_path / "in", out)) == 0
    _, parts = read_dataset(out)
    parts[0].write_bytes(parts[0].read_bytes()[: parts[0].stat().st_size // 2])  # truncated: no footer
    short = pq.read_table(parts[1])
    metadata = {**short.schema.metadata, ROWS_KEY.encode(): b"20"}
    pq.write_table(short.slice(0, 20).replace_schema_metadata(metadata), parts[1])  # valid file, too few rows
    untouched = parts[2].stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(embed_args(path, tmp_path / "in", out)) == 0
    assert "1 already done, 2 written" in capsys.readouterr().err
    table, _ = read_dataset(out)
    np.testing.assert_array_equal(embeddings_to_numpy(table.column("embedding")), model.encode(lonlat))
    assert parts[2].stat().st_mtime_ns == untouched


def test_parts_of_another_model_stop_the_run(tmp_path, tiny_model_dir, capsys):
    path, _ = tiny_model_dir
    make_dataset(tmp_path / "in", files=2, rows=10)
    out = tmp_path / "out"
    assert cli.main(embed_args(path, tmp_path / "in", out)) == 0
    capsys.readouterr()
    assert cli.main(embed_args(path, tmp_path / "in", out, "--out-dtype", "float16")) == 1
    err = capsys.readouterr().err
    assert "written with other settings (out_dtype: 'float32' -> 'float16')" in err and "--overwrite" in err
    assert cli.main(embed_args(path, tmp_path / "in", out, "--out-dtype", "float16", "--overwrite")) == 0
    (out / "region=a" / "part-00.parquet").write_bytes(pq.read_table(tmp_path / "in" / "region=a" / "part-00.parquet")
                                                       .to_pandas().to_parquet())
    assert cli.main(embed_args(path, tmp_path / "in", out, "--out-dtype", "float16")) == 1
    assert "not written by geoloc-embed embed" in capsys.readouterr().err
    assert cli.main(embed_args(path, tmp_path / "in", tmp_path / "in" / "sub")) == 1
    assert "inside the input directory" in capsys.readouterr().err
    assert cli.main(embed_args(path, tmp_path / "nothing-*.parquet", out)) == 1
    assert "no Parquet files found" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path, tiny_model_dir):
    path, model = tiny_model_dir
    lonlat = make_dataset(tmp_path / "in", files=10, rows=4000)
    out = tmp_path / "out"
    args = embed_args(path, tmp_path / "in", out)
    process = run_cli_process(args + ["--chunk-rows", "64", "--batch-size", "64"])  # slow: caught mid-dataset
    deadline = time.monotonic() + 120
    try:
        while len(list(out.rglob("part-*.parquet"))) < 2:  # two parts finished: the run is mid-dataset
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run did not finish two parts in time"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    finished = {p: p.stat().st_mtime_ns for p in out.rglob("part-*.parquet")}
    assert 2 <= len(finished) < 10
    # the next run removes what the killed one left in flight, skips the finished parts, does the rest
    # (the read and batch sizes are not part of a part's record: they do not change the numbers)
    assert cli.main(args) == 0
    assert not hidden_files(out)
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in finished.items())
    table, parts = read_dataset(out)
    assert len(parts) == 10
    np.testing.assert_array_equal(table.column("id").to_numpy(), np.arange(len(lonlat)))
    np.testing.assert_array_equal(embeddings_to_numpy(table.column("embedding")), model.encode(lonlat))


@pytest.mark.slow
@pytest.mark.parametrize("dataset", [False, True], ids=["file", "dataset"])
def test_sigterm_leaves_no_temporary_files(tmp_path, tiny_model_dir, dataset):
    path, _ = tiny_model_dir
    if dataset:
        make_dataset(tmp_path / "in", files=2, rows=30000)
        source, out, watch = tmp_path / "in", tmp_path / "out", tmp_path / "out"
    else:
        rng = np.random.default_rng(0)
        np.save(tmp_path / "points.npy", np.stack([rng.uniform(-180, 180, 60000), rng.uniform(-90, 90, 60000)], 1))
        source, out, watch = tmp_path / "points.npy", tmp_path / "out" / "emb.npy", tmp_path / "out"
    process = run_cli_process(embed_args(path, source, out, "--chunk-rows", "64", "--batch-size", "64"))
    deadline = time.monotonic() + 120
    try:
        while not hidden_files(watch) if watch.exists() else True:  # a temporary file is being written
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert not hidden_files(watch)
    assert not out.is_file()


# --------------------------------------------------------------------------- issue 13 item 11
def test_boolean_columns_are_refused(tmp_path, tiny_model_dir, capsys):
    path, _ = tiny_model_dir
    pq.write_table(pa.table({"lon": [True, False], "lat": [1.0, 2.0]}), tmp_path / "bool.parquet")
    pd.DataFrame({"lon": [1.0, 2.0], "lat": [True, False]}).to_csv(tmp_path / "bool.csv", index=False)
    np.save(tmp_path / "bool.npy", np.zeros((3, 2), dtype=bool))
    for name in ("bool.parquet", "bool.csv", "bool.npy"):
        assert cli.main(embed_args(path, tmp_path / name, tmp_path / "o.npy")) == 1
        err = capsys.readouterr().err
        assert "booleans" in err and err.count("\n") == 1, err
        assert not (tmp_path / "o.npy").exists()
    make_dataset(tmp_path / "ds", files=1, rows=3)
    pq.write_table(pa.table({"lon": [True], "lat": [1.0]}), tmp_path / "ds" / "region=b" / "part-09.parquet")
    assert cli.main(embed_args(path, tmp_path / "ds", tmp_path / "out")) == 1
    assert "booleans" in capsys.readouterr().err


def test_error_rows_are_absolute(tmp_path, tiny_model_dir, capsys):
    path, _ = tiny_model_dir
    frame = pd.DataFrame({"lon": np.linspace(-100, 100, 25), "lat": np.zeros(25)})
    frame.loc[23, "lat"] = np.nan
    frame.to_csv(tmp_path / "p.csv", index=False)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "p.parquet")
    for name in ("p.csv", "p.parquet"):
        assert cli.main(embed_args(path, tmp_path / name, tmp_path / "o.npy", "--chunk-rows", "10")) == 1
        err = capsys.readouterr().err
        assert "at row 23 " in err and "row 3 " not in err, err
    (tmp_path / "ds").mkdir()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "ds" / "a.parquet")
    assert cli.main(embed_args(path, tmp_path / "ds", tmp_path / "out", "--chunk-rows", "10")) == 1
    err = capsys.readouterr().err
    assert "a.parquet: non-finite coordinate" in err and "at row 23 " in err, err


def test_swapped_columns_hint_names_the_options(tmp_path, tiny_model_dir, capsys):
    path, _ = tiny_model_dir
    pd.DataFrame({"lon": [10.0, 45.0, -30.0], "lat": [120.0, -75.0, 60.0]}).to_csv(tmp_path / "s.csv", index=False)
    assert cli.main(embed_args(path, tmp_path / "s.csv", tmp_path / "o.npy")) == 1
    err = capsys.readouterr().err
    assert "pass --lon-col lat --lat-col lon" in err and "order=" not in err and "lon_col" not in err, err
    np.save(tmp_path / "s.npy", np.array([[10.0, 120.0], [45.0, -75.0]]))
    assert cli.main(embed_args(path, tmp_path / "s.npy", tmp_path / "o.npy")) == 1
    err = capsys.readouterr().err
    assert "--order latlon" in err and "lon_col" not in err, err
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(tmp_path / "n.csv", index=False)
    assert cli.main(embed_args(path, tmp_path / "n.csv", tmp_path / "o.npy")) == 1
    err = capsys.readouterr().err
    assert "pass --lon-col NAME" in err and "order=" not in err, err


def test_on_invalid_policies(tmp_path, tiny_model_dir, capsys):
    path, model = tiny_model_dir
    lon = np.array([10.0, np.nan, 20.0, 30.0, 200.0])
    lat = np.array([1.0, 2.0, 95.0, 3.0, 4.0])
    good = np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    pq.write_table(pa.table({"lon": lon, "lat": lat}), tmp_path / "p.parquet")
    expected = model.encode(np.stack([lon[good], lat[good]], 1))
    assert cli.main(embed_args(path, tmp_path / "p.parquet", tmp_path / "e.npy")) == 1  # error by default
    assert "row 1 " in capsys.readouterr().err
    assert cli.main(embed_args(path, tmp_path / "p.parquet", tmp_path / "s.parquet", "--on-invalid", "skip")) == 0
    assert "3 invalid rows skipped" in capsys.readouterr().err
    skipped = pq.read_table(tmp_path / "s.parquet")
    np.testing.assert_array_equal(skipped.column("lon").to_numpy(), lon[good])
    np.testing.assert_array_equal(embeddings_to_numpy(skipped.column("embedding")), expected)
    assert cli.main(embed_args(path, tmp_path / "p.parquet", tmp_path / "n.parquet", "--on-invalid", "nan")) == 0
    masked = pq.read_table(tmp_path / "n.parquet")
    assert masked.column_names == ["lon", "lat", "embedding", "embedding_valid"]
    assert masked.column("embedding_valid").to_pylist() == good.tolist()
    emb = embeddings_to_numpy(masked.column("embedding"))
    assert np.isnan(emb[~good]).all()
    np.testing.assert_array_equal(emb[good], expected)
    assert cli.main(embed_args(path, tmp_path / "p.parquet", tmp_path / "n.npy", "--on-invalid", "nan",
                               "--out-dtype", "float16")) == 0
    npy = np.load(tmp_path / "n.npy")
    assert npy.dtype == np.float16 and np.isnan(npy[~good]).all()
    np.testing.assert_array_equal(npy[good], expected.astype(np.float16))
    make_dataset(tmp_path / "ds", files=1, rows=4)
    bad = tmp_path / "ds" / "region=b" / "part-01.parquet"
    pq.write_table(pa.table({"id": [9, 10], "name": ["x", "y"], "lon": [1.0, np.nan], "lat": [1.0, 1.0]}), bad)
    assert cli.main(embed_args(path, tmp_path / "ds", tmp_path / "out", "--on-invalid", "skip")) == 0
    assert pq.read_table(tmp_path / "out" / "region=b" / "part-01.parquet").column("id").to_pylist() == [9]
    assert cli.main(embed_args(path, tmp_path / "ds", tmp_path / "out", "--on-invalid", "skip")) == 0  # resumes
    assert "2 already done" in capsys.readouterr().err
