"""Trainer: the official LR groups, scheduler, AMP/clipping rules, checkpoints and resume."""
import copy
import logging
import re

import pytest
import torch

from lib.config import load_config
from lib.train.optim import build_optimizer, clip_active, param_groups
from lib.train.trainer import Trainer
from lib.utils.checkpoint_files import latest_checkpoint as find_latest_checkpoint
from tests.official.weights import read_layout

SOT = "vitb_256_tbsi_32x1_1e4_lasher_15ep_sot"
IN1K = "vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k"


class NamedParams:
    """Stands in for a network: only named_parameters() is needed to form the groups."""

    def __init__(self, names):
        self.names = names

    def named_parameters(self):
        for n in self.names:
            yield n, torch.nn.Parameter(torch.zeros(1))


def official_names(which):
    return [key for key, _, _, kind in read_layout(which) if kind == "param"]


def groups_by_name(net, cfg):
    g = param_groups(net, cfg)
    return set(g[0]["param_names"]), set(g[1]["param_names"]), g


def test_lr_groups_sot_official_names():
    cfg = load_config(SOT)
    names = official_names("sot")
    full, low, g = groups_by_name(NamedParams(names), cfg)
    assert g[0]["lr"] == pytest.approx(1e-4) and g[1]["lr"] == pytest.approx(1e-5)
    assert full == {n for n in names if "tbsi" in n}
    assert {n.split(".")[0] for n in full} == {"backbone", "tbsi_fuse_search", "tbsi_fuse_middle"}
    assert all(n.startswith("backbone.tbsi_layers.") for n in full if n.startswith("backbone"))
    # the original's quirk: the new SpSh layer and the head train at 0.1x
    assert any(n.startswith("backbone.sp_sh_layer.") for n in low) and any(n.startswith("box_head.") for n in low)
    cfg.TRAIN.FIX_LR_GROUPS = True
    full_fix, low_fix, _ = groups_by_name(NamedParams(names), cfg)
    assert full_fix == full | {n for n in names if n.startswith(("backbone.sp_sh_layer.", "box_head."))}
    assert all(n.startswith("backbone.") and "sp_sh_layer" not in n and "tbsi" not in n for n in low_fix)


def test_lr_groups_in1k_official_names():
    cfg = load_config(IN1K)
    names = official_names("in1k")
    full, low, g = groups_by_name(NamedParams(names), cfg)
    assert g[0]["lr"] == pytest.approx(4e-4) and g[1]["lr"] == pytest.approx(4e-5)
    assert full == {n for n in names if not n.startswith("backbone.")}
    assert low == {n for n in names if n.startswith("backbone.")}       # incl. tbsi_layers and sp_sh_layer
    cfg.TRAIN.FIX_LR_GROUPS = True
    full_fix, low_fix, _ = groups_by_name(NamedParams(names), cfg)
    moved = {n for n in names if n.startswith(("backbone.tbsi_layers.", "backbone.sp_sh_layer."))}
    assert moved and full_fix == full | moved and low_fix == low - moved


def test_lr_groups_on_built_model(tiny_cfg):
    from lib.models.iimf import build_iimf
    net = build_iimf(tiny_cfg, training=False)
    all_names = {n for n, p in net.named_parameters()}
    for sot in (False, True):
        cfg = copy.deepcopy(tiny_cfg)
        cfg.TRAIN.SOT_PRETRAIN = sot
        cfg.TRAIN.BACKBONE_MULTIPLIER = 0.1
        full, low, _ = groups_by_name(net, cfg)
        assert full | low == all_names and not full & low
        if sot:
            assert full == {n for n in all_names if "tbsi" in n}
        else:
            assert full == {n for n in all_names if not n.startswith("backbone.")}
        opt, _ = build_optimizer(net, cfg)
        assert isinstance(opt, torch.optim.AdamW)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([cfg.TRAIN.LR, cfg.TRAIN.LR * 0.1])
        assert all(g["weight_decay"] == cfg.TRAIN.WEIGHT_DECAY for g in opt.param_groups)
    # frozen parameters are left out, as in the original
    net.box_head.requires_grad_(False)
    full, low, _ = groups_by_name(net, tiny_cfg)
    assert not any(n.startswith("box_head.") for n in full | low)


def test_step_lr_drop(tiny_cfg):
    cfg = copy.deepcopy(tiny_cfg)
    cfg.TRAIN.LR_DROP_EPOCH = 2
    net = torch.nn.Linear(2, 2)
    opt, sched = build_optimizer(net, cfg)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])
    cfg.TRAIN.SCHEDULER.TYPE = "cosine"
    with pytest.raises(ValueError, match="SCHEDULER.TYPE"):
        build_optimizer(net, cfg)


def test_clipping_rules():
    assert clip_active(0.1, amp=False)                  # original: clip without AMP
    assert not clip_active(0.1, amp=True)               # original: skipped under AMP
    assert clip_active(0.1, amp=True, fix_grad_clip_amp=True)
    assert not clip_active(0.0, amp=False)


def test_amp_is_off_on_cpu_with_message(tiny_cfg, tmp_path):
    cfg = copy.deepcopy(tiny_cfg)
    cfg.TRAIN.AMP = True
    t = Trainer(cfg, "tiny", tmp_path, device="cpu")
    assert not t.amp and "CPU" in t.amp_message and "OFF" in t.amp_message
    assert t.clip_active                                # AMP off -> the original clips


# ------------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from lib.data.synthetic import generate_dataset
    root = tmp_path_factory.getbasetemp() / "synthetic_train"
    generate_dataset(root / "lasher", 4, 1, frames=(24, 30), size=(128, 96), seed=0)
    return root


def small_cfg(epochs=2, samples=8, batch=4):
    cfg = load_config("tiny_demo")
    cfg.TRAIN.EPOCH = epochs
    cfg.TRAIN.BATCH_SIZE = batch
    cfg.TRAIN.NUM_WORKER = 0
    cfg.DATA.TRAIN.SAMPLE_PER_EPOCH = samples
    return cfg


def test_checkpoint_format_and_resume_matches_uninterrupted_run(tmp_path, data_dir, monkeypatch, capsys):
    torch.set_num_threads(1)
    # A: two epochs in one go
    a = Trainer(small_cfg(), "tiny", tmp_path / "a", device="cpu", seed=3, data_dir=data_dir)
    assert a.train() == 2
    ck_dir = tmp_path / "a" / "checkpoints" / "train" / "tbsi_track" / "tiny"
    assert find_latest_checkpoint(ck_dir) == (2, ck_dir / "TBSITrack_ep0002.pth.tar")
    ck = torch.load(ck_dir / "TBSITrack_ep0002.pth.tar", map_location="cpu", weights_only=True)
    assert {"net", "optimizer", "scheduler", "scaler", "epoch", "rng", "cfg"} <= set(ck)
    assert ck["epoch"] == 2 and ck["cfg"]["TRAIN"]["EPOCH"] == 2
    assert not any(k.startswith("module.") for k in ck["net"])
    assert set(ck["net"]) == set(a.net.state_dict())
    assert (tmp_path / "a" / "logs" / "tbsi_track-tiny.log").is_file()
    assert any((tmp_path / "a" / "tensorboard" / "train" / "tbsi_track" / "tiny").iterdir())

    # B: the same run, interrupted right after the epoch-1 checkpoint
    orig_save = Trainer.save_checkpoint

    def save_then_stop(self, epoch, stats=None):
        orig_save(self, epoch, stats)
        raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "save_checkpoint", save_then_stop)
    b = Trainer(small_cfg(), "tiny", tmp_path / "b", device="cpu", seed=3, data_dir=data_dir)
    with pytest.raises(KeyboardInterrupt):
        b.train()
    monkeypatch.setattr(Trainer, "save_checkpoint", orig_save)
    b_dir = tmp_path / "b" / "checkpoints" / "train" / "tbsi_track" / "tiny"
    assert find_latest_checkpoint(b_dir)[0] == 1
    log_b = (tmp_path / "b" / "logs" / "tbsi_track-tiny.log").read_text()
    assert "Run the same command again to resume" in log_b
    assert log_b.count("epoch 1/2 done") == 1 and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", log_b)
    logging.getLogger("lib.data.sampler").warning("frame x is unreadable")  # the run is over: not logged
    assert "frame x" not in (tmp_path / "b" / "logs" / "tbsi_track-tiny.log").read_text()
    capsys.readouterr()
    b.run_log.open()                                   # during a run, data warnings go to the log and the console
    logging.getLogger("lib.data.sampler").warning("frame y is unreadable")
    b.run_log.close()
    assert "frame y is unreadable" in (tmp_path / "b" / "logs" / "tbsi_track-tiny.log").read_text()
    assert "warning: frame y is unreadable" in capsys.readouterr().err

    # C: restart: continues at epoch 2 with the optimizer state of the checkpoint
    c = Trainer(small_cfg(), "tiny", tmp_path / "b", device="cpu", seed=3, data_dir=data_dir)
    saved = torch.load(b_dir / "TBSITrack_ep0001.pth.tar", map_location="cpu", weights_only=True)
    assert c.maybe_resume() == 1
    state = c.optimizer.state_dict()["state"]
    assert state and all(torch.equal(state[k]["exp_avg"], saved["optimizer"]["state"][k]["exp_avg"]) for k in state)
    assert c.scheduler.last_epoch == 1
    c2 = Trainer(small_cfg(), "tiny", tmp_path / "b", device="cpu", seed=3, data_dir=data_dir)
    assert c2.train() == 2
    log_c = (tmp_path / "b" / "logs" / "tbsi_track-tiny.log").read_text()
    assert "resuming from" in log_c and "TBSITrack_ep0001" in log_c
    assert "epoch 1/2 done" in log_c.split("resuming from")[0] and "epoch 2/2 done" in log_c.split("resuming from")[1]
    assert "epoch 1/2 done" not in log_c.split("resuming from")[1]
    # the resumed run ends where the uninterrupted one did
    for k, v in a.net.state_dict().items():
        assert torch.allclose(v, c2.net.state_dict()[k], atol=1e-6), k
    # a finished run: rerunning does nothing
    d = Trainer(small_cfg(), "tiny", tmp_path / "b", device="cpu", seed=3, data_dir=data_dir)
    assert d.train() == 2
    assert "already complete" in (tmp_path / "b" / "logs" / "tbsi_track-tiny.log").read_text()


def test_too_few_samples_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="SAMPLE_PER_EPOCH"):
        Trainer(small_cfg(samples=6, batch=4), "tiny", tmp_path, device="cpu", world_size=2)


def test_missing_data_dir_is_a_clear_error(tmp_path):
    t = Trainer(small_cfg(), "tiny", tmp_path, device="cpu", data_dir=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="lasher"):
        t.train()


def test_damaged_images_on_disk_are_skipped_in_workers(tmp_path, caplog):
    import logging
    from lib.data.synthetic import generate_dataset
    from lib.train.data import build_train_sampler, make_loader
    generate_dataset(tmp_path / "lasher", 2, 1, frames=(24, 24), size=(96, 80), seed=2)
    seq_dir = sorted((tmp_path / "lasher" / "trainingset").iterdir())[0]
    damaged = sorted((seq_dir / "visible").iterdir())[:12]
    for f in damaged:
        f.write_bytes(b"not a jpeg")
    cfg = small_cfg(samples=40, batch=4)
    sampler = build_train_sampler(cfg, 40, seed=0, data_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="lib.data.sampler"):
        batches = list(make_loader(sampler, 4, 0))
    assert len(batches) == 10
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs and all("cannot read frame" in m for m in msgs)
    named = [next(f.name for f in damaged if str(f) in m) for m in msgs]   # each names its file
    assert len(named) == len(set(named))                                  # once per bad frame
    # in worker processes too: the epoch completes
    assert len(list(make_loader(sampler, 4, 2))) == 10


def test_resuming_onto_another_configs_checkpoint_names_the_keys(tmp_path):
    from lib.config import load_config
    from lib.models.iimf import build_iimf
    from lib.train.trainer import Trainer

    cfg = load_config("tiny_demo")
    trainer = Trainer.__new__(Trainer)
    trainer.net = build_iimf(cfg)
    cfg.MODEL.BACKBONE.EMBED_DIM = 48
    cfg.MODEL.BACKBONE.NUM_HEADS = 2
    path = tmp_path / "TBSITrack_ep0001.pth.tar"
    torch.save({"net": build_iimf(cfg).state_dict(), "optimizer": {}, "scheduler": {}, "epoch": 1}, path)
    with pytest.raises(ValueError, match=r"another --save_dir\) does not match the model"):
        trainer.load_checkpoint(path)
