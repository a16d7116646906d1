"""``geoloc-embed`` CLI: list, info, embed (CSV/Parquet/.npy in, .npy/Parquet out), convert, errors."""

import json

import numpy as np
import pytest
import torch
from csp_layout import fixture_file

import geoloc_embed as ge
from geoloc_embed import cli, zoo

POINTS = np.array([[2.35, 48.86], [-74.0, 40.7], [180.0, 90.0], [-180.0, -90.0], [0.0, 0.0], [151.2, -33.9],
                   [37.6, 55.7]])


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    model = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6).eval()
    model.save_pretrained(tmp_path / "model")
    return tmp_path / "model", model


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("csp-inat", "geoclip", "satclip-vit16-l40", "torchspatial-grid-yfcc"):
        assert name in out
    assert "csp -> csp-inat" in out
    assert cli.main(["list", "csp-*", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == zoo.list_pretrained("csp-*")
    assert cli.main(["list", "zzz-*"]) == 1


def test_info(capsys):
    assert cli.main(["info", "csp"]) == 0
    out = capsys.readouterr().out
    assert "name: csp-inat" in out and "dropbox.com" in out and "license: none" in out and "@inproceedings" in out
    assert cli.main(["info", "satclip-vit16-l10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hf_repo"] == "microsoft/SatCLIP-ViT16-L10"


def test_info_unknown(capsys):
    assert cli.main(["info", "csp-inatt"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoloc-embed: error: ") and "Did you mean 'csp-inat'" in err
    assert err.count("\n") == 1


def test_embed_csv_chunks(tmp_path, model_dir, capsys):
    pd = pytest.importorskip("pandas")
    directory, model = model_dir
    frame = pd.DataFrame({"name": [f"p{i}" for i in range(len(POINTS))], "Longitude": POINTS[:, 0],
                          "Latitude": POINTS[:, 1]})
    frame.to_csv(tmp_path / "points.csv", index=False)
    out = tmp_path / "emb.npy"
    code = cli.main(["embed", "--model", str(directory), "--input", str(tmp_path / "points.csv"), "--output",
                     str(out), "--chunk-rows", "3", "--batch-size", "2", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    emb = np.load(out)
    assert emb.dtype == np.float32 and emb.shape == (len(POINTS), 6)
    np.testing.assert_allclose(emb, model.encode(POINTS), rtol=1e-6, atol=1e-6)  # other batch shapes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb.npy", "model", "points.csv"]


def test_embed_parquet_and_npy(tmp_path, model_dir):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    directory, model = model_dir
    pq.write_table(pa.table({"x_deg": POINTS[:, 0], "y_deg": POINTS[:, 1]}), tmp_path / "points.parquet")
    out = tmp_path / "emb.parquet"
    assert cli.main(["embed", "-m", str(directory), "-i", str(tmp_path / "points.parquet"), "-o", str(out),
                     "--lon-col", "x_deg", "--lat-col", "y_deg", "--chunk-rows", "4", "--no-progress"]) == 0
    table = pq.read_table(out)
    assert table.column_names == ["lon", "lat", "embedding"]
    emb = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(emb, model.encode(POINTS), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(table.column("lon").to_numpy(), POINTS[:, 0])

    np.save(tmp_path / "latlon.npy", POINTS[:, ::-1].copy())
    assert cli.main(["embed", "-m", str(directory), "-i", str(tmp_path / "latlon.npy"), "-o",
                     str(tmp_path / "e2.npy"), "--order", "latlon", "--no-progress"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "e2.npy"), model.encode(POINTS), rtol=1e-6, atol=1e-6)


def test_embed_errors(tmp_path, model_dir, capsys):
    directory, _ = model_dir
    np.save(tmp_path / "p.npy", POINTS)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[0.0, 95.0]]))
    assert cli.main(["embed", "-m", str(directory), "-i", str(bad), "-o", str(tmp_path / "o.npy"),
                     "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geoloc-embed: error:") and err.count("\n") == 1
    assert not (tmp_path / "o.npy").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.npy")]
    assert cli.main(["embed", "-m", str(directory), "-i", str(tmp_path / "p.npy"), "-o",
                     str(tmp_path / "o.txt")]) == 1
    assert cli.main(["embed", "-m", "csp-inatt", "-i", str(tmp_path / "p.npy"), "-o",
                     str(tmp_path / "o.npy")]) == 1
    assert "Did you mean" in capsys.readouterr().err
    assert cli.main(["embed", "--batch-size", "0", "-i", "x", "-o", "y"]) == 2
    assert cli.main(["nonsense"]) == 2


def test_embed_without_model_uses_the_bundled_default(tmp_path, capsys):
    from geoloc_embed import DEFAULT_MODEL, LocationEncoder

    np.save(tmp_path / "p.npy", POINTS)
    assert cli.main(["embed", "-i", str(tmp_path / "p.npy"), "-o", str(tmp_path / "o.npy"), "--no-progress"]) == 0
    expected = LocationEncoder.from_pretrained(DEFAULT_MODEL).encode(POINTS)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), expected)


def test_convert(tmp_path, capsys):
    src = fixture_file("model_inat_2018").path  # the own CSP-layout fixture (loc_enc. keys, aliases, img_dec)
    out = tmp_path / "converted"
    assert cli.main(["convert", str(src), str(out)]) == 0
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in out.iterdir()}
    converted = ge.LocationEncoder.from_pretrained(out)
    original = ge.LocationEncoder.from_pretrained(src)
    np.testing.assert_array_equal(converted.encode(POINTS), original.encode(POINTS))
    np.testing.assert_array_equal(converted.logits(POINTS), original.logits(POINTS))
    assert cli.main(["convert", str(src), str(out)]) == 1  # not empty
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["convert", str(src), str(out), "--overwrite", "--converter", "csp"]) == 0


def test_convert_missing_registered(tmp_path, capsys):
    assert cli.main(["convert", "csp-fmow", str(tmp_path / "o"), "--local-files-only"]) == 1
    err = capsys.readouterr().err
    assert "model_dir.zip" in err and err.count("\n") == 1


def test_extensions_skipped_when_absent(monkeypatch):
    monkeypatch.setattr(cli, "EXTENSIONS", ("geoloc_embed.does_not_exist.cli",))
    parser = cli.build_parser()
    assert parser.parse_args(["list"]).command == "list"


def test_export_onnx_and_torchscript(tmp_path, model_dir, capsys):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    import torch

    from geoloc_embed import LocationEncoder

    directory, _ = model_dir
    expected = LocationEncoder.from_pretrained(directory).encode(POINTS)
    assert cli.main(["export", "-m", str(directory), "-o", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(["embedding"], {"lonlat": POINTS.astype(np.float32)})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert cli.main(["export", "-m", str(directory), "-o", str(tmp_path / "m.pt")]) == 0
    traced = torch.jit.load(str(tmp_path / "m.pt"))
    np.testing.assert_allclose(traced(torch.as_tensor(POINTS, dtype=torch.float32)).detach().numpy(), expected,
                               atol=1e-5)
    capsys.readouterr()
    assert cli.main(["export", "-m", str(directory), "-o", str(tmp_path / "m.onnx")]) == 1
    assert "exists" in capsys.readouterr().err
    assert cli.main(["export", "-m", str(directory), "-o", str(tmp_path / "m.bin")]) == 1
    assert "--format" in capsys.readouterr().err
