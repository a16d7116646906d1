"""Issue 13 item 4: ``save_pretrained`` and ``convert --overwrite`` replace a model directory as a whole.

A failure while writing (a full disk, an exception in the middle) leaves the old directory intact and
loadable, with no temporary directory left beside it.
"""

import errno
import logging

import numpy as np
import pytest
import torch
from csp_layout import fixture_file

import geoloc_embed as ge
from geoloc_embed import cli
from geoloc_embed import io as ge_io
from geoloc_embed.config import LocationEncoderConfig

POINTS = [[2.35, 48.86], [-74.0, 40.7], [180.0, 0.0]]


def _model(seed: int, **overrides) -> ge.LocationEncoder:
    torch.manual_seed(seed)
    return ge.create_model("csp-grid", **{"frequency_num": 4, "hidden_dim": 8, "embed_dim": 6, **overrides}).eval()


def _siblings(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def _disk_full_on_config(monkeypatch):
    """config.json is written after model.safetensors: fail there, as a full disk would."""
    def full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocationEncoderConfig, "to_json", full)


def test_failed_save_leaves_the_old_directory_loadable(tmp_path, monkeypatch):
    old, new = _model(0), _model(1, embed_dim=12)
    target = tmp_path / "m"
    old.save_pretrained(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with monkeypatch.context() as patch:
        _disk_full_on_config(patch)
        with pytest.raises(OSError, match="No space left"):
            new.save_pretrained(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    np.testing.assert_array_equal(ge.LocationEncoder.from_pretrained(target).encode(POINTS), old.encode(POINTS))
    assert _siblings(target) == []  # no temporary directory left


def test_exception_while_writing_weights_leaves_the_old_directory(tmp_path, monkeypatch):
    old = _model(0)
    target = tmp_path / "m"
    old.save_pretrained(target)

    def broken(state):
        raise RuntimeError("interrupted in the middle")

    monkeypatch.setattr(ge_io, "serialize_weights", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        _model(1).save_pretrained(target)
    monkeypatch.undo()
    np.testing.assert_array_equal(ge.LocationEncoder.from_pretrained(target).encode(POINTS), old.encode(POINTS))
    assert _siblings(target) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_save_replaces_the_model_and_keeps_other_files(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(ge_io, "_exchange", lambda a, b: False)
    target = tmp_path / "m"
    _model(0).save_pretrained(target)
    (target / "README.md").write_text("my own model card\n")
    (target / "notes.txt").write_text("training notes\n")
    (target / "logs").mkdir()
    (target / "logs" / "run.csv").write_text("step,loss\n")
    new = _model(1, embed_dim=12)
    new.save_pretrained(target)
    np.testing.assert_array_equal(ge.LocationEncoder.from_pretrained(target).encode(POINTS), new.encode(POINTS))
    assert (target / "README.md").read_text() == "my own model card\n"  # as PyTorchModelHubMixin: kept
    assert (target / "notes.txt").read_text() == "training notes\n"
    assert (target / "logs" / "run.csv").read_text() == "step,loss\n"
    assert _siblings(target) == []


def test_save_into_the_working_directory(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    _model(0).save_pretrained(".")
    new = _model(1)
    with caplog.at_level(logging.WARNING, logger="geoloc_embed.io"):
        new.save_pretrained(".")
    assert "working directory" in caplog.text
    np.testing.assert_array_equal(ge.LocationEncoder.from_pretrained(tmp_path).encode(POINTS), new.encode(POINTS))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_convert_overwrite_is_atomic(tmp_path, monkeypatch, capsys):
    source = fixture_file("xyz__").path
    out = tmp_path / "out"
    old = _model(0)
    old.save_pretrained(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with monkeypatch.context() as patch:
        _disk_full_on_config(patch)
        assert cli.main(["convert", str(source), str(out), "--overwrite"]) == 1
    assert "No space left" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    np.testing.assert_array_equal(ge.LocationEncoder.from_pretrained(out).encode(POINTS), old.encode(POINTS))
    assert _siblings(out) == []
    # and when it succeeds: the converted model, a fresh model card
    assert cli.main(["convert", str(source), str(out), "--overwrite"]) == 0
    converted = ge.LocationEncoder.from_pretrained(source)
    np.testing.assert_array_equal(ge.LocationEncoder.from_pretrained(out).encode(POINTS), converted.encode(POINTS))
    assert "xyz" in (out / "README.md").read_text()


def test_replace_directory_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        ge_io.replace_directory(tmp_path / "f", lambda d: None)
