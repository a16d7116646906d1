"""Pre-training / fine-tuning / evaluation loops: end to end, exact resume, exports, evaluation maths."""

import json
import math

import pytest
import torch

from geoloc_embed import LocationEncoder
from geoloc_embed.trainer import (
    FinetuneConfig,
    GeoDataset,
    PretrainConfig,
    StopTraining,
    evaluate,
    finetune,
    load_arrays,
    pretrain,
)
from geoloc_embed.trainer.engine import CHECKPOINT_NAME, load_checkpoint
from geoloc_embed.trainer.synthetic import make_synthetic_csp_data, synthetic_arrays

SMALL_MODEL = {"frequency_num": 8, "hidden_dim": 32, "embed_dim": 16, "dropout": 0.2}


@pytest.fixture(scope="module")
def small_arrays():
    return load_arrays(synthetic_arrays(400, num_classes=5, feature_dim=12, seed=1))


def _pre_cfg(tmp_path, name, **kw):
    base = dict(output_dir=str(tmp_path / name), model=SMALL_MODEL, data={"format": "arrays"}, epochs=2,
                batch_size=64, lr=3e-3, progress=False, log_every=1, num_negatives=2, temperatures=(0.5, 1.0, 1.0),
                balanced=True, max_per_class=60)
    base.update(kw)
    return PretrainConfig(**base)


def _params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _crash_at(step):
    def cb(loop, event, info):
        if event == "step_end" and loop.global_step == step:
            raise RuntimeError("simulated crash")
    return cb


@pytest.mark.parametrize("loss", ["mc", "nce", "mc-sym"])
def test_pretrain_resume_after_crash_is_exact(tmp_path, small_arrays, loss):
    ref = pretrain(_pre_cfg(tmp_path, "ref", loss=loss), train_data=small_arrays)
    steps = ref.summary["global_step"]
    assert steps == 2 * math.ceil(5 * 60 / 64)  # 300 balanced samples per epoch
    with pytest.raises(RuntimeError, match="simulated crash"):
        pretrain(_pre_cfg(tmp_path, "run", loss=loss, checkpoint_every=3), train_data=small_arrays,
                 callbacks=[_crash_at(7)])  # mid-epoch 2; last checkpoint at step 6 (epoch 1, batch 1)
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    assert (state["global_step"], state["epoch"], state["batch_in_epoch"]) == (6, 1, 1)
    resumed = pretrain(_pre_cfg(tmp_path, "run", loss=loss, checkpoint_every=3, resume=True),
                       train_data=small_arrays)
    assert resumed.summary["global_step"] == steps
    a, b = _params(ref.model), _params(resumed.model)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_pretrain_max_steps_then_resume_matches(tmp_path, small_arrays):
    ref = pretrain(_pre_cfg(tmp_path, "ref", epochs=3), train_data=small_arrays)
    part = pretrain(_pre_cfg(tmp_path, "run", epochs=3, max_steps=8), train_data=small_arrays)
    assert part.summary["global_step"] == 8 and not part.summary["finished"]
    done = pretrain(_pre_cfg(tmp_path, "run", epochs=3, resume=True), train_data=small_arrays)
    for k, v in _params(ref.model).items():
        assert torch.equal(v, done.model.state_dict()[k]), k
    # resuming a finished run is a no-op
    again = pretrain(_pre_cfg(tmp_path, "run", epochs=3, resume=True), train_data=small_arrays)
    assert again.summary.get("resumed_finished")


def test_stop_training_callback_and_outputs(tmp_path, small_arrays):
    def stop(loop, event, info):
        if event == "step_end" and loop.global_step == 2:
            raise StopTraining

    res = pretrain(_pre_cfg(tmp_path, "s", loss="mse"), train_data=small_arrays, callbacks=[stop])
    out = tmp_path / "s"
    assert res.summary["global_step"] == 2
    assert (out / CHECKPOINT_NAME).is_file() and (out / "metrics.csv").is_file()
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["loss"] == "mse" and cfg["model"]["network"]["embed_dim"] == 16
    assert cfg["model"]["format_version"] == 2  # the explicit architecture, whatever form the run config used
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,epoch,lr,loss") and len(lines) == 3
    enc = LocationEncoder.from_pretrained(str(out / "model"))
    x = torch.tensor([[2.35, 48.86], [-74.0, 40.7]])
    res.encoder.eval()
    with torch.no_grad():
        assert torch.allclose(enc(x), res.encoder(x))
    assert not list(out.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_finetune_resume_is_exact_and_uses_lr_decay(tmp_path, small_arrays):
    def cfg(name, **kw):
        return FinetuneConfig(output_dir=str(tmp_path / name), model=SMALL_MODEL, data={"format": "arrays"},
                              epochs=3, batch_size=32, lr=1e-2, lr_decay=0.5, progress=False, log_every=1,
                              train_sample_ratio=0.5, **kw)

    ref = finetune(cfg("ref"), train_data=small_arrays)
    rows = [json.loads(x) for x in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    lrs = sorted({(r["epoch"], r["lr"]) for r in rows if "lr" in r})
    assert lrs == [(0, 1e-2), (1, 5e-3), (2, 2.5e-3)]
    with pytest.raises(RuntimeError):
        finetune(cfg("run", checkpoint_every=2), train_data=small_arrays, callbacks=[_crash_at(9)])
    res = finetune(cfg("run", checkpoint_every=2, resume=True), train_data=small_arrays)
    for k, v in ref.encoder.state_dict().items():
        assert torch.equal(v, res.encoder.state_dict()[k]), k
    assert (tmp_path / "run" / "train_sample_ratio0.500.npy").exists() is False
    assert (tmp_path / "run" / "sample_idx" / "train_sample_ratio0.500.npy").is_file()


def test_finetune_carries_pretrained_weights_and_optimizer(tmp_path, small_arrays):
    pre = pretrain(_pre_cfg(tmp_path, "pre", epochs=1), train_data=small_arrays)
    from geoloc_embed.trainer.finetune import (
        ClassifierModel,
        _carry_optimizer_state,
        load_for_finetuning,
    )

    enc, ckpt = load_for_finetuning(str(tmp_path / "pre"), num_classes=5)
    for k, v in pre.encoder.state_dict().items():
        assert torch.equal(v, enc.state_dict()[k])
    assert enc.class_head.weight.shape == (5, 16)
    model = ClassifierModel(enc)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    assert _carry_optimizer_state(opt, model, ckpt) == len(list(pre.encoder.parameters()))
    # a save_pretrained directory works too
    enc2, ckpt2 = load_for_finetuning(str(tmp_path / "pre" / "model"), num_classes=3)
    assert ckpt2 is None and enc2.class_head.weight.shape == (3, 16)


def test_evaluate_matches_hand_computed_fusion():
    enc = LocationEncoder({"frequency_num": 4, "hidden_dim": 8, "embed_dim": 4, "dropout": 0.0, "num_classes": 3})
    locs = torch.tensor([[0.0, 0.0], [10.0, 5.0], [float("nan"), float("nan")], [-20.0, 40.0]])
    labels = torch.tensor([0, 1, 2, 2])
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.4, 0.35, 0.25]])
    ds = GeoDataset(locations=locs, labels=labels, image_probs=probs)
    out = evaluate(enc, ds, topk=(1, 2), batch_size=3)
    with torch.no_grad():
        prior = torch.sigmoid(enc.class_logits(enc(locs[[0, 1, 3]])))
    loc_hits = sum(int(prior[i].argmax() == labels[j]) for i, j in enumerate([0, 1, 3]))
    fused = probs.clone()
    fused[[0, 1, 3]] = probs[[0, 1, 3]] * prior
    fused_hits = sum(int(fused[i].argmax() == labels[i]) for i in range(4))
    assert out["n"] == 4 and out["n_with_location"] == 3
    assert out["top1_location"] == pytest.approx(100 * loc_hits / 3)
    assert out["top1_image"] == pytest.approx(100 * 3 / 4)  # rows 0, 1, 2 correct; row 3 wrong
    assert out["top1_fused"] == pytest.approx(100 * fused_hits / 4)
    assert out["top2_image"] == pytest.approx(100 * 3 / 4)  # row 3: label 2 ranks last


def test_synthetic_end_to_end(tmp_path):
    """Pre-train -> fine-tune at 5 % -> evaluate on the authors' layout; pre-training lowers the loss."""
    make_synthetic_csp_data(tmp_path / "data", "inat_2018", n_train=1600, n_val=300, feature_dim=32, num_classes=8)
    data = {"format": "csp", "root": str(tmp_path / "data"), "dataset": "inat_2018"}
    model = {"frequency_num": 12, "hidden_dim": 64, "embed_dim": 32, "dropout": 0.1}
    pre = pretrain(PretrainConfig(output_dir=str(tmp_path / "pre"), data=data, model=model, epochs=5, batch_size=200,
                                  lr=3e-3, temperatures=(0.1, 1.0, 1.0), progress=False, max_per_class=1000,
                                  neg_sampler="sphericalold"))
    losses = [h["epoch_loss"] for h in pre.summary["history"]]
    print("pre-training epoch losses", losses)
    assert losses[-1] < losses[0] - 0.2, losses
    ft = finetune(FinetuneConfig(output_dir=str(tmp_path / "ft"), data=data, pretrained=str(tmp_path / "pre"),
                                 epochs=15, batch_size=64, lr=3e-3, progress=False, train_sample_ratio=0.05))
    idx = json.loads(json.dumps(list(map(int, __import__("numpy").load(
        tmp_path / "data" / "inat_2018" / "sample_idx" / "train_sample_ratio0.050.npy")))))
    assert 8 <= len(idx) <= 0.1 * 1600
    m = ft.metrics
    print("evaluation", m)
    assert m["n"] == 300 and m["n_with_location"] < 300
    assert m["top1_location"] > 100 / 8 * 2  # far above chance
    assert m["top1_fused"] >= m["top1_image"]
    assert json.loads((tmp_path / "ft" / "eval.json").read_text())["top1_fused"] == pytest.approx(m["top1_fused"])
    enc = LocationEncoder.from_pretrained(str(tmp_path / "ft" / "model"))
    assert enc.num_classes == 8
