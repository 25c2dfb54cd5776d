"""AMP through the same code on the CPU as on GPUs: autocast, GradScaler, unscale before clipping,
skipped steps, the scaler in checkpoints; and the two dtype rules the original follows under AMP."""
import pytest
import torch

from lib.config import load_config
from lib.train.amp import OptimizerStep, amp_policy
from lib.train.losses import focal_loss
from lib.train.trainer import Trainer
from lib.utils.boxes import cal_bbox
from lib.utils.checkpoint_files import checkpoint_path

CPU = torch.device("cpu")


def linear_and_loss(seed=0):
    """A small network and a loss with large gradients (so that clipping at 0.1 acts)."""
    torch.manual_seed(seed)
    net = torch.nn.Linear(8, 4)
    x = torch.randn(16, 8)
    return net, lambda: (net(x) ** 2).sum() * 50.0


def test_policy_follows_the_original_unless_forced():
    cfg = load_config("tiny_demo")
    cfg.TRAIN.AMP = True
    assert amp_policy(cfg, torch.device("cuda", 0))[0]
    enabled, message = amp_policy(cfg, CPU)
    assert not enabled and "CPU" in message and "OFF" in message
    assert amp_policy(cfg, CPU, force=True)[0]
    cfg.TRAIN.AMP = False
    assert amp_policy(cfg, torch.device("cuda", 0)) == (False, None)


def test_without_amp_the_step_is_a_plain_backward_clip_step():
    net, loss_fn = linear_and_loss()
    step = OptimizerStep(torch.optim.AdamW(net.parameters(), lr=1e-2), CPU, amp=False, grad_clip_norm=0.1)
    assert step.clip and not step.scaler.is_enabled()
    assert step(loss_fn(), net.parameters())
    twin, twin_loss_fn = linear_and_loss()
    twin_opt = torch.optim.AdamW(twin.parameters(), lr=1e-2)
    twin_loss_fn().backward()
    torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.1)
    twin_opt.step()
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_amp_unscales_before_clipping_and_scales_the_loss():
    net, loss_fn = linear_and_loss()
    opt = torch.optim.SGD(net.parameters(), lr=0.0)      # lr 0: the gradients stay inspectable
    assert OptimizerStep(opt, CPU, amp=True, grad_clip_norm=0.1).scaler.get_scale() == 65536.0
    # float16 gradients of this loss would overflow at 65536
    step = OptimizerStep(opt, CPU, amp=True, grad_clip_norm=0.1, fix_grad_clip_amp=True, init_scale=256.0)
    assert step.clip
    with step.autocast():
        loss = loss_fn() / 1000.0
    assert step(loss, net.parameters())
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net.parameters()]))
    assert norm == pytest.approx(0.1, rel=1e-3)          # clipped after unscaling (else 0.1 / 256)
    original = OptimizerStep(torch.optim.SGD(net.parameters(), lr=0.0), CPU, amp=True, grad_clip_norm=0.1)
    assert not original.clip                             # the original skips clipping under AMP


def test_amp_skips_steps_with_non_finite_gradients_and_recovers():
    net, loss_fn = linear_and_loss()
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    step = OptimizerStep(opt, CPU, amp=True, grad_clip_norm=0.1)
    assert not step(loss_fn() * float("inf"), net.parameters())
    assert step.skipped == 1 and step.scaler.get_scale() == 32768.0
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert step(loss_fn(), net.parameters())
    assert step.skipped == 1 and not all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from lib.data.synthetic import generate_dataset
    root = tmp_path_factory.getbasetemp() / "synthetic_amp"
    generate_dataset(root / "lasher", 3, 1, frames=(24, 24), size=(128, 96), seed=4)
    return root


def small_cfg():
    cfg = load_config("tiny_demo")
    cfg.TRAIN.AMP = True
    cfg.TRAIN.EPOCH, cfg.TRAIN.BATCH_SIZE, cfg.TRAIN.NUM_WORKER = 2, 2, 0
    cfg.DATA.TRAIN.SAMPLE_PER_EPOCH = 4
    return cfg


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # the scaler skipped a step
def test_amp_training_on_cpu_checkpoints_the_scaler_and_resumes_it(tmp_path, data_dir, monkeypatch):
    torch.set_num_threads(1)
    first = Trainer(small_cfg(), "tiny", tmp_path, device="cpu", seed=1, data_dir=data_dir, amp=True)
    assert first.amp and first.step.scaler.is_enabled()
    calls = []
    original_step = OptimizerStep.__call__

    def spy(self, loss, params):
        calls.append(loss.dtype)
        return original_step(self, loss, params)
    monkeypatch.setattr(OptimizerStep, "__call__", spy)
    first.cfg.TRAIN.EPOCH = 1
    first.max_epochs = 1
    assert first.train() == 1
    assert len(calls) == 2 and all(dtype == torch.float32 for dtype in calls)
    saved = torch.load(checkpoint_path(first.ckpt_dir, 1), map_location="cpu", weights_only=True)
    assert saved["scaler"]["scale"] == first.step.scaler.get_scale()
    first.step.scaler.update(1234.0)                     # resuming must restore the saved scale
    resumed = Trainer(small_cfg(), "tiny", tmp_path, device="cpu", seed=1, data_dir=data_dir, amp=True)
    assert resumed.maybe_resume() == 1
    assert resumed.step.scaler.get_scale() == saved["scaler"]["scale"]
    out = resumed.actor.forward(next(iter(torch.utils.data.DataLoader(resumed_sampler(resumed), batch_size=2))))
    assert out["score_map"].dtype == torch.float32       # outside autocast: float32
    with resumed.step.autocast():
        out = resumed.actor.forward(next(iter(torch.utils.data.DataLoader(resumed_sampler(resumed), batch_size=2))))
    assert out["score_map"].dtype == torch.float16 and out["pred_boxes"].dtype == torch.float32


def resumed_sampler(trainer):
    from lib.train.data import build_train_sampler
    return build_train_sampler(trainer.cfg, 2, seed=0, data_dir=trainer.data_dir)


def test_box_centres_are_float32_under_amp():
    torch.manual_seed(0)
    score = torch.rand(3, 1, 16, 16)
    size = torch.rand(3, 2, 16, 16).half()
    offset = (torch.rand(3, 2, 16, 16) * 0.9).half()
    boxes = cal_bbox(score, size, offset)
    assert boxes.dtype == torch.float32
    idx = score.flatten(1).argmax(1)
    off = offset.flatten(2)[torch.arange(3), :, idx].float()
    expected_cx = ((idx % 16).float() + off[:, 0]) / 16
    assert torch.equal(boxes[:, 0], expected_cx)
    fp16_cx = ((idx % 16).half() + offset.flatten(2)[torch.arange(3), 0, idx]) / 16
    assert not torch.equal(boxes[:, 0], fp16_cx.float())  # the rule matters: float16 centres are rounded
    assert torch.equal(boxes[:, 2:], size.flatten(2)[torch.arange(3), :, idx].float())


def test_focal_loss_on_float16_scores_rounds_one_minus_score_in_float16():
    torch.manual_seed(0)
    pred = (0.01 + 0.98 * torch.rand(2, 1, 16, 16)).half()
    target = torch.rand(2, 1, 16, 16) ** 4
    target[0, 0, 3, 4] = target[1, 0, 9, 9] = 1.0
    loss = focal_loss(pred, target)
    p, q = pred.float(), (1 - pred).float()                 # 1 - p rounded in float16, then float32
    pos, neg = target.eq(1).float(), target.lt(1).float()
    expected = -((torch.log(p) * q ** 2 * pos).sum()
                 + (torch.log(q) * p ** 2 * (1 - target) ** 4 * neg).sum()) / pos.sum()
    assert loss.dtype == torch.float32 and torch.allclose(loss, expected, rtol=1e-6)
    assert not torch.allclose(loss, focal_loss(pred.float(), target), rtol=1e-7, atol=0)
