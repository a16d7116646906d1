"""The engine-agnostic batch function and the Ray/Dask/Spark adapters' callables (no engine needed).

Every embedding is compared with ``LocationEncoder.encode`` of the same points, row for row. The Dask
adapter also runs here on Dask's synchronous scheduler when dask is installed; the end-to-end
distributed run (LocalCluster, 2 worker processes, 1 M points) is ``test_integrations_dask_cluster.py``.
"""

import pickle
import subprocess
import sys

import numpy as np
import pytest

from geoloc_embed.errors import CoordinateError
from geoloc_embed.integrations import embed_batch, embeddings_to_numpy, encode_columns
from geoloc_embed.integrations.batch import shift_rows, valid_rows
from geoloc_embed.integrations.models import clear_cache, load_encoder

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

LON = np.array([2.35, -74.0, 180.0, -180.0, 0.0, 151.2, 37.6, -0.5])
LAT = np.array([48.86, 40.7, 90.0, -90.0, 0.0, -33.9, 55.7, -89.999])


def expected(model, lon=LON, lat=LAT):
    return model.encode(np.stack([lon, lat], axis=1))


def test_dict_batch_keeps_columns_and_equals_encode(tiny_model_dir):
    path, model = tiny_model_dir
    batch = {"id": np.arange(len(LON)), "Longitude": LON, "lat": LAT, "label": np.array(list("abcdefgh"))}
    out = embed_batch(batch, str(path))
    assert list(out) == ["id", "Longitude", "lat", "label", "embedding"]
    assert out["embedding"].dtype == np.float32 and out["embedding"].shape == (len(LON), 6)
    np.testing.assert_array_equal(out["embedding"], expected(model))
    np.testing.assert_array_equal(out["label"], batch["label"])
    assert "id" not in embed_batch({"x_deg": LON, "y_deg": LAT}, model, lon_col="x_deg", lat_col="y_deg")


def test_pandas_batch_arrow_backed_column(tiny_model_dir):
    _, model = tiny_model_dir
    frame = pd.DataFrame({"name": list("abcdefgh"), "lon": LON, "lat": LAT}, index=np.arange(100, 108))
    out = embed_batch(frame, model)
    assert list(out.columns) == ["name", "lon", "lat", "embedding"]
    assert out.index.tolist() == frame.index.tolist()
    assert out["embedding"].dtype == pd.ArrowDtype(pa.list_(pa.float32(), 6))
    np.testing.assert_array_equal(embeddings_to_numpy(out["embedding"]), expected(model))
    assert "embedding" not in frame  # the caller's frame is not modified


@pytest.mark.parametrize("as_table", [False, True])
def test_arrow_batch_fixed_size_list(tiny_model_dir, as_table):
    _, model = tiny_model_dir
    table = pa.table({"id": np.arange(len(LON)), "lon": LON, "lat": LAT})
    batch = table if as_table else table.to_batches()[0]
    out = embed_batch(batch, model)
    assert type(out) is type(batch)
    assert out.schema.names == ["id", "lon", "lat", "embedding"]
    assert out.schema.field("embedding").type == pa.list_(pa.float32(), 6)
    np.testing.assert_array_equal(embeddings_to_numpy(out.column("embedding")), expected(model))
    half = embed_batch(batch, model, out_dtype=np.float16)
    assert half.schema.field("embedding").type == pa.list_(pa.float16(), 6)
    np.testing.assert_array_equal(embeddings_to_numpy(half.column("embedding")), expected(model).astype(np.float16))


def test_invalid_rows_policies(tiny_model_dir):
    _, model = tiny_model_dir
    lon = np.array([10.0, np.nan, 20.0, 200.0, 30.0])
    lat = np.array([1.0, 2.0, 95.0, 3.0, 4.0])
    good = np.array([True, False, False, False, True])
    np.testing.assert_array_equal(valid_rows(lon, lat), good)
    np.testing.assert_array_equal(valid_rows(lon, lat, wrap=True), good | (lon == 200.0))
    batch = {"lon": lon, "lat": lat, "id": np.arange(5)}
    with pytest.raises(CoordinateError, match="row 1 "):
        embed_batch(batch, model)
    with pytest.raises(CoordinateError, match="row 1001 "):  # absolute rows with first_row
        embed_batch(batch, model, first_row=1000)
    skipped = embed_batch(batch, model, on_invalid="skip")
    np.testing.assert_array_equal(skipped["id"], [0, 4])
    np.testing.assert_array_equal(skipped["embedding"], expected(model, lon[good], lat[good]))
    table = embed_batch(pa.table(batch), model, on_invalid="nan")
    assert table.column("embedding_valid").to_pylist() == good.tolist()
    emb = embeddings_to_numpy(table.column("embedding"))
    assert np.isnan(emb[~good]).all()
    np.testing.assert_array_equal(emb[good], expected(model, lon[good], lat[good]))
    wrapped = embed_batch(batch, model, on_invalid="nan", wrap=True)
    assert wrapped["embedding_valid"].tolist() == [True, False, False, True, True]
    # an Arrow null is a missing coordinate like NaN
    nulls = pa.table({"lon": pa.array([1.0, None, 3.0]), "lat": pa.array([1.0, 2.0, 3.0])})
    assert embed_batch(nulls, model, on_invalid="skip").num_rows == 2
    with pytest.raises(ValueError, match="on_invalid"):
        embed_batch(batch, model, on_invalid="drop")


@pytest.mark.parametrize("policy", ["error", "skip", "nan"])
def test_booleans_are_refused_under_every_policy(tiny_model_dir, policy):
    _, model = tiny_model_dir
    with pytest.raises(CoordinateError, match="booleans"):
        embed_batch({"lon": np.array([True, False]), "lat": np.array([1.0, 2.0])}, model, on_invalid=policy)
    with pytest.raises(CoordinateError, match="booleans"):
        embed_batch(pa.table({"lon": [1.0, 2.0], "lat": [True, False]}), model, on_invalid=policy)


def test_batch_errors_name_the_fix(tiny_model_dir):
    _, model = tiny_model_dir
    with pytest.raises(ValueError, match="already has a column 'embedding'.*column="):
        embed_batch({"lon": LON, "lat": LAT, "embedding": LON}, model)
    assert "emb2" in embed_batch({"lon": LON, "lat": LAT, "embedding": LON}, model, column="emb2")
    with pytest.raises(CoordinateError, match="lon_col"):
        embed_batch({"a": LON, "b": LAT}, model)
    with pytest.raises(TypeError, match="LocationEncoder.encode"):
        embed_batch(np.stack([LON, LAT], 1), model)


def test_shift_rows_rewrites_only_row_numbers():
    message = "latitude 95.0 at row 3 ('lon'=1.0, 'lat'=95.0) (2 of 10 rows) is outside [-90, 90]"
    assert shift_rows(message, 0) == message
    assert shift_rows(message, 100) == ("latitude 95.0 at row 103 ('lon'=1.0, 'lat'=95.0) (2 of the 10 rows "
                                        "100-109) is outside [-90, 90]")


def test_encode_columns_shapes(tiny_model_dir):
    _, model = tiny_model_dir
    emb, valid = encode_columns(model, pd.Series([1.0, None, 3.0], dtype="Float64"), np.array([1.0, 2.0, 3.0]),
                                on_invalid="nan")
    assert valid.tolist() == [True, False, True] and np.isnan(emb[1]).all()
    np.testing.assert_array_equal(emb[[0, 2]], expected(model, np.array([1.0, 3.0]), np.array([1.0, 3.0])))


def test_model_reference_loaded_once_per_process(tiny_model_dir):
    path, model = tiny_model_dir
    clear_cache()
    first = load_encoder(str(path))
    assert load_encoder(str(path)) is first and load_encoder(path) is first
    assert load_encoder(model) is model
    np.testing.assert_array_equal(first.encode(np.stack([LON, LAT], 1)), expected(model))
    with pytest.raises(TypeError, match="model must be"):
        load_encoder(3)


# --------------------------------------------------------------------------- Ray Data's callable class
@pytest.mark.parametrize("batch_format", ["numpy", "pandas", "pyarrow"])
def test_ray_callable_class_on_each_batch_format(tiny_model_dir, batch_format):
    from geoloc_embed.integrations.ray import EmbedBatches

    path, model = tiny_model_dir
    table = pa.table({"id": np.arange(len(LON)), "lon": LON, "lat": LAT})
    batch = {"numpy": {name: table.column(name).to_numpy() for name in table.column_names},
             "pandas": table.to_pandas(), "pyarrow": table}[batch_format]
    embedder = EmbedBatches(model=str(path), out_dtype=np.float16)  # what an actor constructs once
    out = embedder(batch)
    column = out["embedding"] if batch_format != "pyarrow" else out.column("embedding")
    np.testing.assert_array_equal(embeddings_to_numpy(column), expected(model).astype(np.float16))
    with pytest.raises(ValueError, match="on_invalid"):
        EmbedBatches(model=str(path), on_invalid="later")


def test_ray_wiring_when_installed(tiny_model_dir):
    ray = pytest.importorskip("ray")
    from geoloc_embed.integrations.ray import embed_dataset

    path, model = tiny_model_dir
    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True)
    try:
        ds = ray.data.from_items([{"lon": float(a), "lat": float(b)} for a, b in zip(LON, LAT, strict=True)])
        rows = embed_dataset(ds, model=str(path), batch_size=3).to_pandas()
        np.testing.assert_array_equal(embeddings_to_numpy(rows["embedding"]), expected(model))
    finally:
        ray.shutdown()


# --------------------------------------------------------------------------- Spark's make_predict_fn
def test_spark_predict_fn_directly(tiny_model_dir):
    from geoloc_embed.integrations.spark import make_predict_fn

    path, model = tiny_model_dir
    factory = pickle.loads(pickle.dumps(make_predict_fn(str(path))))  # Spark ships it to the executors
    predict = factory()
    emb = predict(LON, LAT)
    assert emb.dtype == np.float32 and emb.shape == (len(LON), 6)
    np.testing.assert_array_equal(emb, expected(model))
    with pytest.raises(CoordinateError, match="row 1"):
        predict(np.array([0.0, np.nan]), np.array([0.0, 0.0]))
    nan_rows = make_predict_fn(str(path), on_invalid="nan")()(np.array([0.0, np.nan]), np.array([0.0, 0.0]))
    assert np.isnan(nan_rows[1]).all() and np.isfinite(nan_rows[0]).all()
    with pytest.raises(ValueError, match="cannot drop rows"):
        make_predict_fn(str(path), on_invalid="skip")


def test_spark_wiring_when_installed(tiny_model_dir):
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from geoloc_embed.integrations.spark import embed_udf

    path, model = tiny_model_dir
    spark = SparkSession.builder.master("local[1]").config("spark.driver.host", "127.0.0.1").getOrCreate()
    try:
        df = spark.createDataFrame([(float(a), float(b)) for a, b in zip(LON, LAT, strict=True)], ["lon", "lat"])
        rows = df.withColumn("embedding", embed_udf(str(path), batch_size=3)("lon", "lat")).toPandas()
        np.testing.assert_allclose(np.stack(rows["embedding"].to_numpy()), expected(model), rtol=0, atol=0)
    finally:
        spark.stop()


# --------------------------------------------------------------------------- Dask, synchronous scheduler
def test_dask_partitions_meta_and_values(tiny_model_dir):
    dd = pytest.importorskip("dask.dataframe")
    import dask

    from geoloc_embed.integrations.dask import embed_partitions

    path, model = tiny_model_dir
    frame = pd.DataFrame({"id": np.arange(len(LON)), "lon": LON, "lat": LAT})
    ddf = dd.from_pandas(frame, npartitions=3)
    out = embed_partitions(ddf, model=str(path), on_invalid="nan")
    assert list(out.columns) == ["id", "lon", "lat", "embedding", "embedding_valid"]
    assert out.dtypes["embedding"] == pd.ArrowDtype(pa.list_(pa.float32(), 6))
    with dask.config.set(scheduler="synchronous"):
        result = out.compute()
    assert result["embedding_valid"].all()
    np.testing.assert_array_equal(embeddings_to_numpy(result["embedding"]), expected(model))
    assert dask.base.tokenize(out) == dask.base.tokenize(embed_partitions(ddf, model=str(path), on_invalid="nan"))


def test_importing_the_package_imports_no_engine():
    code = ("import sys, geoloc_embed, geoloc_embed.integrations, geoloc_embed.cli; "
            "print(sorted(m for m in ('ray', 'dask', 'pyspark', 'sklearn', 'pandas', 'pyarrow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
