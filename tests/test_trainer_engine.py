"""Step-level checks: the fused forward equals separate passes, dropout, image modules (AMP: test_trainer_precision)."""


import pytest
import torch
from torch import nn

from geoloc_embed import LocationEncoder
from geoloc_embed.trainer import GeoDataset, PretrainConfig, load_arrays, pretrain
from geoloc_embed.trainer.distributed import DistContext
from geoloc_embed.trainer.dropout import (
    FastCPUDropout,
    keep_mask,
    restore_dropout,
    uniform_bytes,
    use_fast_cpu_dropout,
)
from geoloc_embed.trainer.losses import mc_loss, nce_loss
from geoloc_embed.trainer.pretrain import ImageLocationModel, build_pretrain_step
from geoloc_embed.trainer.samplers import build_negative_sampler
from geoloc_embed.trainer.synthetic import synthetic_arrays

MODEL = {"frequency_num": 8, "hidden_dim": 32, "embed_dim": 16, "dropout": 0.0}


@pytest.mark.parametrize("loss", ["mc", "nce", "mc-sym"])
def test_fused_forward_equals_three_separate_passes(loss):
    torch.manual_seed(0)
    data = synthetic_arrays(50, num_classes=3, feature_dim=10)
    tensors = {"locations": torch.from_numpy(data["locations"]), "features": torch.from_numpy(data["features"])}
    enc = LocationEncoder(MODEL)
    model = ImageLocationModel(enc, 10)
    cfg = PretrainConfig(model=MODEL, loss=loss, num_negatives=3, temperatures=(0.5, 2.0, 0.7), mc_weights=(0.3, 0.9))
    sampler = build_negative_sampler("sphericalold")
    gen = torch.Generator().manual_seed(4)
    step = build_pretrain_step(cfg, model, tensors, torch.device("cpu"), DistContext(), sampler, gen)
    idx = torch.tensor([3, 7, 1, 40, 22, 9])
    got = step(idx, 0)

    n, c = 6, 3
    x = tensors["locations"][idx]
    negs = sampler(c * n, torch.Generator().manual_seed(4))           # the authors' (C*N) block
    neg_u = enc(negs).view(c, n, -1)
    neg_u = torch.stack([torch.stack([neg_u[cc, i] for cc in range(c)]) for i in range(n)])  # [i, c] = row c*N+i
    u, u2, v = enc(x), enc(x), model.img_proj(tensors["features"][idx])
    if loss == "nce":
        want = nce_loss(u, u2, v, neg_u, weights=cfg.nce_weights)
    else:
        want = mc_loss(u, u2, v, neg_u, temperatures=cfg.temperatures, weights=cfg.mc_weights,
                       symmetric=loss == "mc-sym")
    for a, b in zip(got, want, strict=False):
        assert torch.allclose(a, b, atol=1e-6), (got, want)


def test_zero_weight_terms_are_skipped_or_computed():
    data = load_arrays(synthetic_arrays(40, num_classes=2, feature_dim=6))
    tensors = {"locations": data.locations, "features": data.features}
    enc = LocationEncoder(MODEL)
    model = ImageLocationModel(enc, 6)
    for skip, expect_zero in ((True, True), (False, False)):
        cfg = PretrainConfig(model=MODEL, mc_weights=(0.0, 0.0), skip_zero_weight_terms=skip)
        step = build_pretrain_step(cfg, model, tensors, torch.device("cpu"), DistContext(),
                                   build_negative_sampler("uniform"), torch.Generator().manual_seed(0))
        out = step(torch.arange(8), 0)
        assert (float(out.l.detach()) == 0.0 and float(out.d.detach()) == 0.0) == expect_zero
        assert float(out.total.detach()) == pytest.approx(float(out.b.detach()))


def test_fast_cpu_dropout_distribution_and_state():
    enc = LocationEncoder({**MODEL, "dropout": 0.3})
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    changed = use_fast_cpu_dropout(enc)
    assert len(changed) == 2
    assert all(isinstance(m, FastCPUDropout) for m in enc.modules() if isinstance(m, nn.Dropout))
    assert before.keys() == enc.state_dict().keys()
    restore_dropout(changed)
    assert not any(isinstance(m, FastCPUDropout) for m in enc.modules())
    d = FastCPUDropout(0.3)
    x = torch.ones(200_000)
    y = d(x)
    assert float((y == 0).float().mean()) == pytest.approx(0.3, abs=0.01)
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    d.eval()
    assert torch.equal(d(x), x)
    x = torch.randn(10, requires_grad=True)
    d.train()
    d(x).sum().backward()
    grads = x.grad
    assert torch.all((grads == 0) | torch.isclose(grads, torch.tensor(1 / 0.7)))


def test_dropout_random_bytes_are_uniform_and_masks_exact():
    torch.manual_seed(0)
    n = 8 * 256 * 400
    b = uniform_bytes(n)
    assert b.dtype == torch.uint8 and b.shape == (n,) and uniform_bytes(13).shape == (13,)
    for pos in range(8):  # every byte position of the int64 draws, the sign byte included
        counts = torch.bincount(b.view(-1, 8)[:, pos].long(), minlength=256).double()
        chi2 = float(((counts - 400) ** 2 / 400).sum())
        assert chi2 < 360, (pos, chi2)  # 255 degrees of freedom: P(chi2 > 360) < 1e-4
    for p in (0.5, 0.25, 0.125, 0.3):
        drop = float((~keep_mask(torch.Size([500, 800]), p)).float().mean())
        sigma = (p * (1 - p) / 400_000) ** 0.5
        assert abs(drop - p) < 5 * sigma, (p, drop)
    torch.manual_seed(3)
    x = torch.ones(1000, 600)
    y = FastCPUDropout(0.5)(x)
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}


def test_pretrain_with_a_frozen_image_module(tmp_path):
    g = torch.Generator().manual_seed(0)
    images = torch.randn(96, 3, 8, 8, generator=g)
    locs = torch.rand(96, 2, generator=g) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])
    data = GeoDataset(locations=locs, labels=torch.randint(0, 3, (96,), generator=g), features=images)
    backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
    frozen = {k: v.clone() for k, v in backbone.state_dict().items()}
    res = pretrain(PretrainConfig(output_dir=str(tmp_path / "img"), model=MODEL, data={"format": "arrays"}, epochs=2,
                                  batch_size=32, progress=False), train_data=data, image_encoder=backbone)
    assert res.model.img_proj.in_features == 16
    for k, v in backbone.state_dict().items():
        assert torch.equal(v, frozen[k]), k  # weights and BatchNorm statistics untouched
    assert not backbone.training


@pytest.mark.slow  # inductor's C++ compilation takes a minute or more on 2 cores
def test_torch_compile_runs(tmp_path):
    data = load_arrays(synthetic_arrays(64, num_classes=2, feature_dim=8))
    res = pretrain(PretrainConfig(output_dir=str(tmp_path / "c"), model=MODEL, data={"format": "arrays"}, epochs=1,
                                  batch_size=32, progress=False, compile=True), train_data=data)
    assert res.summary["global_step"] == 2


def test_evaluate_skips_unknown_labels():
    from geoloc_embed.trainer import evaluate

    enc = LocationEncoder({**MODEL, "num_classes": 2})
    ds = GeoDataset(locations=torch.tensor([[0.0, 0.0], [5.0, 5.0], [9.0, 9.0]]), labels=torch.tensor([0, -1, 1]),
                    image_probs=torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]))
    out = evaluate(enc, ds, topk=(1,))
    assert out["n"] == 2 and out["top1_image"] == 100.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
def test_pretrain_and_finetune_on_gpu(tmp_path, amp):
    from geoloc_embed.trainer import FinetuneConfig, finetune

    data = load_arrays(synthetic_arrays(300, num_classes=3, feature_dim=16))
    res = pretrain(PretrainConfig(output_dir=str(tmp_path / "p"), model={**MODEL, "dropout": 0.3},
                                  data={"format": "arrays"}, epochs=2, batch_size=64, progress=False, amp=amp,
                                  device="cuda", checkpoint_every=2), train_data=data)
    assert res.model.img_proj.weight.device.type == "cuda"
    assert all(h["epoch_loss"] == h["epoch_loss"] for h in res.summary["history"])  # no NaN
    again = pretrain(PretrainConfig(output_dir=str(tmp_path / "p"), model={**MODEL, "dropout": 0.3},
                                    data={"format": "arrays"}, epochs=3, batch_size=64, progress=False, amp=amp,
                                    device="cuda", resume=True), train_data=data)
    assert again.summary["epoch"] == 3
    ft = finetune(FinetuneConfig(output_dir=str(tmp_path / "f"), pretrained=str(tmp_path / "p"),
                                 data={"format": "arrays"}, epochs=2, batch_size=32, progress=False, amp=amp,
                                 device="cuda", train_sample_ratio=0.5), train_data=data, val_data=data)
    assert ft.metrics["top1_location"] >= 0


def test_engine_is_a_shim_of_the_machinery_modules():
    # geoloc_embed.trainer.engine keeps its historical names working (user code may still import
    # from it): each is the very object of the module it lives in now, and nothing else is defined there.
    import importlib

    from geoloc_embed.trainer import engine

    homes = {"devices": ["resolve_device", "resolve_amp", "autocast", "full_precision"],
             "distributed": ["DistContext", "init_distributed", "gather_with_grad"],
             "checkpoint": ["CHECKPOINT_NAME", "load_checkpoint", "CheckpointError"],
             "metrics": ["MetricsLogger"], "loop": ["TrainLoop", "StopTraining"],
             "dropout": ["FastCPUDropout", "use_fast_cpu_dropout", "restore_dropout"],
             "runtime": ["make_adam", "prepare_run_model", "epoch_generator", "rows"]}
    assert sorted(engine.__all__) == sorted(name for names in homes.values() for name in names)
    for module, names in homes.items():
        home = importlib.import_module(f"geoloc_embed.trainer.{module}")
        for name in names:
            assert getattr(engine, name) is getattr(home, name), (module, name)
