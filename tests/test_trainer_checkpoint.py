"""Damaged, tampered and foreign ``checkpoint.pt`` files: one clear error naming the file, no code run."""

import io
import os
import shutil

import numpy as np
import pytest
import torch

from geoloc_embed.errors import WeightsError
from geoloc_embed.trainer import (
    CheckpointError,
    FinetuneConfig,
    PretrainConfig,
    finetune,
    load_arrays,
    pretrain,
)
from geoloc_embed.trainer.checkpoint import CHECKPOINT_NAME, load_checkpoint
from geoloc_embed.trainer.cli import main as trainer_main
from geoloc_embed.trainer.synthetic import synthetic_arrays

MODEL = {"frequency_num": 4, "hidden_dim": 16, "embed_dim": 8, "dropout": 0.1}


def _cfg(out, **kw):
    base = dict(output_dir=str(out), model=MODEL, data={"format": "arrays"}, epochs=1, batch_size=50,
                progress=False, log_every=0, device="cpu")
    base.update(kw)
    return PretrainConfig(**base)


@pytest.fixture(scope="module")
def data():
    return load_arrays(synthetic_arrays(100, num_classes=3, feature_dim=8))


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("good")
    pretrain(_cfg(out), train_data=data)
    return out


def _with_checkpoint(tmp_path, blob):
    out = tmp_path / "run"
    out.mkdir()
    (out / CHECKPOINT_NAME).write_bytes(blob)
    return out


def _saved(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _resume_error(out, data):
    with pytest.raises(CheckpointError) as info:
        pretrain(_cfg(out, resume=True), train_data=data)
    msg = str(info.value)
    assert str(out / CHECKPOINT_NAME) in msg and "--resume" in msg and "delete it" in msg, msg
    assert "\n" not in msg and "weights_only` set to `False`" not in msg, msg  # never advise unsafe loading
    return msg


def test_checkpoint_error_is_a_weights_error():
    assert issubclass(CheckpointError, WeightsError) and issubclass(CheckpointError, ValueError)


def test_truncated_checkpoint(tmp_path, good_run, data):
    blob = (good_run / CHECKPOINT_NAME).read_bytes()
    assert "truncated or corrupted" in _resume_error(_with_checkpoint(tmp_path, blob[:len(blob) // 2]), data)


def test_html_page_saved_as_checkpoint(tmp_path, data):
    page = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>gone</body></html>\n"
    assert "HTML" in _resume_error(_with_checkpoint(tmp_path, page), data)


@pytest.mark.parametrize("blob, words", [(b"", "is empty"), (b'{"model": 1}', "JSON/text"),
                                         (bytes(range(7, 200)), "not a file written by torch.save")])
def test_empty_text_and_garbage_files(tmp_path, data, blob, words):
    assert words in _resume_error(_with_checkpoint(tmp_path, blob), data)


class _RunsCode:
    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))  # creating the marker file would prove code ran


def test_pickled_code_is_refused_and_never_runs(tmp_path, data):
    marker = tmp_path / "ran"
    evil = _RunsCode()
    evil.marker = str(marker)
    out = _with_checkpoint(tmp_path, _saved({"format": "geoloc_embed.trainer/1", "model": evil}))
    msg = _resume_error(out, data)
    assert "execute code" in msg and not marker.exists()


def test_other_pickles_and_objects(tmp_path, good_run, data):
    assert "holds a list" in _resume_error(_with_checkpoint(tmp_path, _saved([1, 2, 3])), data)
    shutil.rmtree(tmp_path / "run")
    model_only = torch.load(good_run / CHECKPOINT_NAME, weights_only=True)["model"]
    assert "not a geoloc_embed trainer checkpoint" in _resume_error(_with_checkpoint(tmp_path, _saved(model_only)),
                                                                    data)


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.pop("model"), "'model' is not a state_dict"),
    (lambda s: s.update(epoch="abc"), "'epoch' is 'abc'"),
    (lambda s: s.update(global_step=-1), "'global_step' is -1"),
    (lambda s: s.update(rng=[{"cpu": torch.zeros(3)}]), "'rng'"),
    (lambda s: s.update(optimizer={"state": {}}), "'optimizer'"),
    (lambda s: s.update(format="geoloc_embed.trainer/99"), "has format 'geoloc_embed.trainer/99'"),
])
def test_edited_entries(tmp_path, good_run, data, edit, words):
    state = torch.load(good_run / CHECKPOINT_NAME, weights_only=True)
    edit(state)
    assert words in _resume_error(_with_checkpoint(tmp_path, _saved(state)), data)


def test_checkpoint_of_another_model_or_run_kind(tmp_path, good_run, data):
    state = torch.load(good_run / CHECKPOINT_NAME, weights_only=True)
    shrunk = dict(state, model={k: v[:1] for k, v in state["model"].items()})
    msg = _resume_error(_with_checkpoint(tmp_path, _saved(shrunk)), data)
    assert "does not fit this run's model" in msg and "shape mismatch" in msg
    shutil.rmtree(tmp_path / "run")
    assert "written by a FinetuneConfig run" in _resume_error(
        _with_checkpoint(tmp_path, _saved(dict(state, kind="FinetuneConfig"))), data)
    shutil.rmtree(tmp_path / "run")
    bad_rng = dict(state, generators={"negatives": torch.zeros(5, dtype=torch.uint8)})
    assert "random-generator state" in _resume_error(_with_checkpoint(tmp_path, _saved(bad_rng)), data)


def test_optimizer_state_of_other_parameters(tmp_path, good_run, data):
    state = torch.load(good_run / CHECKPOINT_NAME, weights_only=True)
    groups = [dict(g, params=g["params"][:-1]) for g in state["optimizer"]["param_groups"]]
    edited = dict(state, optimizer=dict(state["optimizer"], param_groups=groups))
    assert "optimizer state" in _resume_error(_with_checkpoint(tmp_path, _saved(edited)), data)


def test_a_good_checkpoint_still_loads(good_run):
    state = load_checkpoint(good_run / CHECKPOINT_NAME)
    assert state["global_step"] == 2 and state["kind"] == "PretrainConfig"
    with pytest.raises(FileNotFoundError):
        load_checkpoint(good_run / "missing.pt")


def test_cli_prints_one_clear_line(tmp_path, capsys, data):
    out = _with_checkpoint(tmp_path, b"<html>proxy error</html>")
    np.savez(tmp_path / "train.npz", **synthetic_arrays(60, num_classes=3, feature_dim=8))
    code = trainer_main(["pretrain", "--output-dir", str(out), "--resume", "--data-format", "arrays",
                         "--data-train-path", str(tmp_path / "train.npz"), "--no-progress", "--device", "cpu",
                         "--set", "model.frequency_num=4", "--set", "model.hidden_dim=16"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: trainer checkpoint") and len(err.splitlines()) == 1, err
    assert str(out / CHECKPOINT_NAME) in err and "HTML" in err


def test_finetune_from_a_damaged_pretraining_checkpoint(tmp_path, good_run, data):
    pre = tmp_path / "pre"
    pre.mkdir()
    (pre / CHECKPOINT_NAME).write_bytes((good_run / CHECKPOINT_NAME).read_bytes()[:1000])
    cfg = FinetuneConfig(output_dir=str(tmp_path / "ft"), pretrained=str(pre), data={"format": "arrays"},
                         epochs=1, batch_size=32, progress=False, train_sample_ratio=0.5, device="cpu")
    with pytest.raises(CheckpointError, match="truncated or corrupted") as info:
        finetune(cfg, train_data=data, val_data=data)
    assert str(pre / CHECKPOINT_NAME) in str(info.value) and os.fspath(pre / "model") in str(info.value)
