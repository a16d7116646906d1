"""bf16 autocast on CPU: what runs in bf16, that training tracks float32, and that resume stays exact.

Tolerances. bfloat16 keeps 8 significant bits (7 stored + 1 implicit), so one rounding changes a
value by at most u = 2**-8 (0.39 %) relative. Under ``amp="bf16"`` every matmul input of the
encoder, projection and class head is rounded once (products accumulate in float32) and the loss
is reduced in float32. A logit u_i . v_j / tau then carries an error of about u * |logit| (up to
u / tau for cosine similarities), and these errors partly cancel in the batch-mean cross-entropy;
the two runs' parameters drift apart by such errors step after step but stay in the same basin.
The curves (300 steps, batch 64, tau0 = 0.1) are compared with

* every step's loss within 2u relative of the float32 loss at that step (measured: <= 0.6u,
  0.23 %, and not growing with the step), and
* the mean loss over the last 50 steps within u / 4 (measured: 0.02 %),

both runs drawing the same dropout masks and negatives (``FastCPUDropout`` draws float32 uniforms
whatever the activation dtype, and the negatives come from the run's own generator).
"""

import contextlib
import dataclasses
import logging
import statistics
import sys

import pytest
import torch
from torch import nn

from geoloc_embed import LocationEncoder
from geoloc_embed.trainer import FinetuneConfig, PretrainConfig, finetune, load_arrays, pretrain
from geoloc_embed.trainer.devices import autocast, full_precision, resolve_amp
from geoloc_embed.trainer.distributed import DistContext
from geoloc_embed.trainer.dropout import FastCPUDropout
from geoloc_embed.trainer.losses import mc_loss
from geoloc_embed.trainer.pretrain import ImageLocationModel, build_pretrain_step
from geoloc_embed.trainer.samplers import build_negative_sampler
from geoloc_embed.trainer.synthetic import make_synthetic_csp_data, synthetic_arrays

BF16_UNIT_ROUNDOFF = 2.0 ** -8
# embed_dim 32: with dropout 0.5 after the last layer an embedding row is all zeros with probability
# 2**-embed_dim, and CSP's normalisation (no epsilon) turns such a row into NaN
MODEL = {"frequency_num": 8, "hidden_dim": 32, "embed_dim": 32, "dropout": 0.5}
CPU = torch.device("cpu")


@contextlib.contextmanager
def _threads(n):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def test_resolve_amp_on_cpu(caplog, monkeypatch):
    devices = sys.modules["geoloc_embed.trainer.devices"]
    with caplog.at_level(logging.WARNING, logger="geoloc_embed.trainer"):
        assert resolve_amp(CPU, "fp16") == "none"
    assert "fp16 runs only on CUDA" in caplog.text
    caplog.clear()
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)
    with caplog.at_level(logging.WARNING, logger="geoloc_embed.trainer"):
        assert resolve_amp(CPU, "bf16") == "bf16"
    assert "without native bfloat16" in caplog.text
    caplog.clear()
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: True)
    with caplog.at_level(logging.WARNING, logger="geoloc_embed.trainer"):
        assert resolve_amp(CPU, "bf16") == "bf16" and resolve_amp(CPU, "none") == "none"
    assert caplog.text == ""
    with pytest.raises(ValueError, match="amp must be one of"):
        resolve_amp(CPU, "bf32")


def test_fast_dropout_draws_the_same_mask_for_bf16_activations():
    drop = FastCPUDropout(0.3)
    x = torch.randn(64, 50)
    torch.manual_seed(5)
    a = drop(x)
    torch.manual_seed(5)
    b = drop(x.bfloat16())
    assert b.dtype == torch.bfloat16
    assert torch.equal(a == 0, b == 0) and 0.2 < float((a == 0).float().mean()) < 0.4


def test_bf16_step_runs_the_matmuls_in_bf16_and_the_loss_in_fp32():
    torch.manual_seed(0)
    data = load_arrays(synthetic_arrays(64, num_classes=3, feature_dim=12))
    tensors = {"locations": data.locations, "features": data.features}
    cfg = PretrainConfig(model={**MODEL, "dropout": 0.0}, num_negatives=2, temperatures=(0.1, 1.0, 1.0))
    model = ImageLocationModel(LocationEncoder(cfg.model_config()), 12)
    linear_dtypes, captured = [], {}
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.register_forward_hook(lambda mod, inp, out: linear_dtypes.append(out.dtype))
    model.register_forward_hook(lambda mod, inp, out: captured.update(out))
    step = build_pretrain_step(cfg, model, tensors, CPU, DistContext(), build_negative_sampler("uniform"),
                               torch.Generator().manual_seed(1))
    idx = torch.arange(16)
    with autocast(CPU, "bf16"):
        terms = step(idx, 0)
    assert linear_dtypes and all(d == torch.bfloat16 for d in linear_dtypes)  # encoder and projection in bf16
    assert terms.total.dtype == torch.float32
    emb = captured["loc"].float()
    want = mc_loss(emb[:16], emb[48:], captured["img"].float(), emb[16:48].view(2, 16, -1).transpose(0, 1),
                   temperatures=cfg.temperatures, weights=cfg.mc_weights)
    assert torch.equal(terms.total, want.total)  # the loss maths ran in float32, outside autocast
    with autocast(CPU, "bf16"), full_precision(CPU):
        assert (emb @ emb.T).dtype == torch.float32
    terms.total.backward()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())


def _curve(tmp_path, amp, data):
    losses = []

    def record(loop, event, info):
        if event == "step_end":
            losses.append(float(info["terms"].total.detach()))

    cfg = PretrainConfig(output_dir=str(tmp_path / amp), model=MODEL, data={"format": "arrays"}, epochs=1000,
                         max_steps=300, batch_size=64, lr=3e-3, temperatures=(0.1, 1.0, 1.0), balanced=False,
                         progress=False, log_every=0, device="cpu", amp=amp, seed=3)
    res = pretrain(cfg, train_data=data, callbacks=[record])
    return torch.tensor(losses, dtype=torch.float64), res


def test_bf16_loss_curve_tracks_fp32(tmp_path):
    data = load_arrays(synthetic_arrays(512, num_classes=6, feature_dim=16, seed=2))
    with _threads(1):
        fp32, ref = _curve(tmp_path, "none", data)
        bf16, res = _curve(tmp_path, "bf16", data)
    assert fp32.shape == bf16.shape == (300,)
    assert float(fp32[-50:].mean()) < float(fp32[:10].mean()) - 1.0  # it trained
    assert not torch.equal(fp32, bf16)  # bf16 really ran
    rel = (bf16 - fp32).abs() / fp32.abs()
    print(f"bf16 vs fp32 over 300 steps: max per-step relative difference {float(rel.max()):.2e}, "
          f"last-50 means {float(fp32[-50:].mean()):.5f} / {float(bf16[-50:].mean()):.5f}")
    assert float(rel.max()) <= 2 * BF16_UNIT_ROUNDOFF
    assert abs(float(bf16[-50:].mean() - fp32[-50:].mean())) <= BF16_UNIT_ROUNDOFF / 4 * float(fp32[-50:].mean())
    for name, p in res.model.state_dict().items():
        assert p.dtype == ref.model.state_dict()[name].dtype == torch.float32, name  # parameters stay fp32
    state = torch.load(tmp_path / "bf16" / "checkpoint.pt", weights_only=True)
    moments = [t for s in state["optimizer"]["state"].values() for k, t in s.items() if k != "step"]
    assert moments and all(t.dtype == torch.float32 for t in moments)  # so does the Adam state


@pytest.mark.parametrize("stage", ["pretrain", "finetune"])
def test_bf16_resume_is_bitwise_exact(tmp_path, stage):
    data = load_arrays(synthetic_arrays(200, num_classes=4, feature_dim=8, seed=4))
    if stage == "pretrain":
        def run(name, **kw):
            return pretrain(PretrainConfig(output_dir=str(tmp_path / name), model=MODEL, data={"format": "arrays"},
                                           epochs=3, batch_size=64, progress=False, log_every=0, device="cpu",
                                           amp="bf16", balanced=False, num_negatives=2, **kw),
                            train_data=data).model
    else:
        def run(name, **kw):
            return finetune(FinetuneConfig(output_dir=str(tmp_path / name), model=MODEL, data={"format": "arrays"},
                                           epochs=3, batch_size=32, progress=False, log_every=0, device="cpu",
                                           amp="bf16", train_sample_ratio=0.5, eval_predictions="none", **kw),
                            train_data=data, val_data=None).encoder
    with _threads(1):
        ref = run("ref")
        run("run", max_steps=4)
        done = run("run", resume=True)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, done.state_dict()[k]), k


def _fewshot_top1(tmp_path, amp, seed):
    data = {"format": "csp", "root": str(tmp_path / "data"), "dataset": "inat_2018"}
    model = {"frequency_num": 12, "hidden_dim": 64, "embed_dim": 32, "dropout": 0.1}
    pre = tmp_path / f"pre_{amp}_{seed}"
    pretrain(PretrainConfig(output_dir=str(pre), data=data, model=model, epochs=5, batch_size=200, lr=3e-3,
                            temperatures=(0.1, 1.0, 1.0), progress=False, max_per_class=1000, log_every=0,
                            device="cpu", amp=amp, seed=seed))
    ft = finetune(FinetuneConfig(output_dir=str(tmp_path / f"ft_{amp}_{seed}"), data=data, pretrained=str(pre),
                                 epochs=15, batch_size=64, lr=3e-3, progress=False, train_sample_ratio=0.05,
                                 log_every=0, device="cpu", amp=amp, seed=seed))
    return ft.metrics["top1_location"], ft.metrics["n_with_location"]


@pytest.mark.slow  # 8 pre-training + fine-tuning runs: about a minute on 2 cores
def test_fewshot_accuracy_after_bf16_pretraining_is_within_seed_noise(tmp_path):
    make_synthetic_csp_data(tmp_path / "data", "inat_2018", n_train=1600, n_val=300, feature_dim=32, num_classes=8)
    seeds = (0, 1, 2, 3)
    with _threads(1):
        fp32 = [_fewshot_top1(tmp_path, "none", s) for s in seeds]
        bf16 = [_fewshot_top1(tmp_path, "bf16", s) for s in seeds]
    n_loc = fp32[0][1]
    acc32, acc16 = [a for a, _ in fp32], [a for a, _ in bf16]
    noise = statistics.stdev(acc32)
    print(f"few-shot (5 %) top-1 location accuracy over seeds {seeds}: fp32 {acc32} (mean "
          f"{statistics.mean(acc32):.2f}, seed-to-seed std {noise:.2f}); bf16 {acc16} "
          f"(mean {statistics.mean(acc16):.2f})")
    assert statistics.mean(acc32) > 100 / 8 * 2  # far above chance: the pipeline learned something
    one_sample = 100.0 / n_loc
    assert abs(statistics.mean(acc16) - statistics.mean(acc32)) <= max(noise, one_sample)


def test_fp16_amp_on_cpu_changes_nothing(tmp_path):
    data = load_arrays(synthetic_arrays(120, num_classes=3, feature_dim=8))
    base = PretrainConfig(output_dir=str(tmp_path / "a"), model={**MODEL, "dropout": 0.2}, data={"format": "arrays"},
                          epochs=1, batch_size=32, progress=False, device="cpu", log_every=0)
    a = pretrain(base, train_data=data)
    b = pretrain(dataclasses.replace(base, output_dir=str(tmp_path / "b"), amp="fp16"), train_data=data)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
