"""CPU inference kernels compute what the modules they replace compute; static int8 layers and their
calibration files (what they were made from, and refusal for other settings)."""
import copy

import pytest
import torch
from timm.models.vision_transformer import Block
from torch import nn

from lib.config import load_config
from lib.models.iimf import build_iimf
from lib.models.iimf.cpu_kernels import (InferenceBlock, MKLPackedLinear, OneDNNLinear,
                                         mkl_packed_linear_available, onednn_linear_available, use_cpu_linear)
from lib.models.iimf.int8 import (RangeRecorder, StaticInt8Linear, default_calibration_path, int8_kernels_available,
                                  load_calibration, quantize_backbone_static, save_calibration, smooth_block_inputs)
from lib.models.iimf.vit import ViTNorm

LINEAR_CLASSES = [cls for cls, ok in ((OneDNNLinear, onednn_linear_available()),
                                      (MKLPackedLinear, mkl_packed_linear_available())) if ok]
needs_int8 = pytest.mark.skipif(not int8_kernels_available(), reason="no oneDNN int8 kernels in this torch build")


@pytest.mark.parametrize("linear_class", LINEAR_CLASSES, ids=lambda c: c.__name__)
def test_cpu_linear_matches_nn_linear_with_gelu_and_residual(linear_class):
    torch.manual_seed(0)
    linear = nn.Linear(48, 40)
    x, residual = torch.randn(2, 7, 48), torch.randn(2, 7, 40)
    with torch.no_grad():
        torch.testing.assert_close(linear_class(linear)(x), linear(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(linear_class(linear, gelu=True)(x), nn.functional.gelu(linear(x)),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(linear_class(linear)(x, residual=residual), linear(x) + residual,
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("linear_class", LINEAR_CLASSES, ids=lambda c: c.__name__)
def test_inference_block_matches_the_timm_block(linear_class):
    torch.manual_seed(0)
    block = Block(48, 4, qkv_bias=True, norm_layer=ViTNorm).eval()
    x = torch.randn(3, 20, 48)
    fast = copy.deepcopy(block)
    use_cpu_linear(fast, linear_class)
    fast = InferenceBlock(fast)
    assert fast.state_dict().keys() == block.state_dict().keys()
    with torch.no_grad():
        torch.testing.assert_close(fast(x), block(x), atol=1e-5, rtol=1e-5)
        unflashed = InferenceBlock(copy.deepcopy(fast), flash=False)
        torch.testing.assert_close(unflashed(x), block(x), atol=1e-5, rtol=1e-5)


@needs_int8
def test_static_int8_linear_is_close_and_hands_uint8_to_the_next_layer():
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(64, 96), nn.Linear(96, 32)
    x, residual = torch.randn(50, 64), torch.randn(50, 32)
    with torch.no_grad():
        hidden = nn.functional.gelu(fc1(x))
        expected = fc2(hidden) + residual
        q1 = StaticInt8Linear(fc1, float(x.min()), float(x.max()), gelu=True)
        q2 = StaticInt8Linear(fc2, float(hidden.min()), float(hidden.max()))
        q1.emit_quantized_for(q2)
        handed = q1(x)
        out = q2(handed, residual=residual)
    assert handed.dtype == torch.uint8 and out.dtype == torch.float32
    error = (out - expected).abs().max() / expected.abs().max()
    assert 0 < error < 0.03


@pytest.fixture
def tiny_net_and_checkpoint(tmp_path):
    cfg = load_config("tiny_demo")
    torch.manual_seed(0)
    net = build_iimf(cfg).eval()
    checkpoint = tmp_path / "TBSITrack_ep0008.pth.tar"
    torch.save({"net": net.state_dict()}, checkpoint)
    return cfg, net, checkpoint


def test_calibration_file_records_its_origin_and_is_refused_for_other_settings(tiny_net_and_checkpoint, tmp_path):
    cfg, net, checkpoint = tiny_net_and_checkpoint
    template = [torch.randn(1, 3, 64, 64) for _ in range(2)]
    search = [torch.randn(1, 3, 128, 128) for _ in range(2)]
    with RangeRecorder(net.backbone) as recorder, torch.no_grad():
        net(template=template, search=search, return_features=False)
    assert recorder.frames == 1 and all(bool((low <= high).all()) for low, high in recorder.ranges.values())
    assert recorder.ranges["blocks.0.mlp.fc1"][0].shape == (96,)      # one range per input channel
    path = default_calibration_path(checkpoint)
    assert path == tmp_path / "TBSITrack_ep0008.int8.pt"
    with pytest.raises(FileNotFoundError, match="calibrate_int8.py"):
        load_calibration(path, cfg, checkpoint)
    save_calibration(path, recorder.ranges, cfg, "tiny_demo", checkpoint, recorder.frames, ["seqA"])
    loaded = load_calibration(path, cfg, checkpoint)
    assert loaded.keys() == recorder.ranges.keys()
    assert all(torch.equal(loaded[k][0], low) and torch.equal(loaded[k][1], high)
               for k, (low, high) in recorder.ranges.items())
    record = torch.load(path, weights_only=True)
    assert (record["config"], record["template_size"], record["search_size"], record["sequences"]) == \
           ("tiny_demo", 64, 128, ["seqA"])

    other_crop = copy.deepcopy(cfg)
    other_crop.TEST.SEARCH_SIZE = 256
    with pytest.raises(ValueError, match="crops 64/128.*64/256"):
        load_calibration(path, other_crop, checkpoint)
    other_model = copy.deepcopy(cfg)
    other_model.MODEL.BACKBONE.TBSI_LOC = [3]
    with pytest.raises(ValueError, match="config tiny_demo"):
        load_calibration(path, other_model, checkpoint)
    other_checkpoint = tmp_path / "other.pth.tar"
    torch.save({"net": build_iimf(cfg).state_dict()}, other_checkpoint)
    with pytest.raises(ValueError, match="calibrate again for this checkpoint"):
        load_calibration(path, cfg, other_checkpoint)
    old_format = tmp_path / "old.int8.pt"
    torch.save({**record, "format": "iimf-int8-calibration-1"}, old_format)
    with pytest.raises(ValueError, match="older format.*calibrate again"):
        load_calibration(old_format, cfg, checkpoint)
    not_calibration = tmp_path / "not.pt"
    torch.save({"net": {}}, not_calibration)
    with pytest.raises(ValueError, match="not an int8 calibration file"):
        load_calibration(not_calibration, cfg, checkpoint)


def test_calibration_of_another_model_is_an_error(tiny_net_and_checkpoint):
    net = tiny_net_and_checkpoint[1]
    with pytest.raises(ValueError, match="made for another model"):
        quantize_backbone_static(net.backbone, {"blocks.99.attn.qkv": (-1.0, 1.0)})


def test_smoothing_keeps_the_float_result_and_evens_out_the_input_channels(tiny_net_and_checkpoint):
    net = copy.deepcopy(tiny_net_and_checkpoint[1]).eval()
    block = net.backbone.blocks[0]
    with torch.no_grad():   # LayerNorm output channels of very different widths, as in trained ViTs
        block.norm2.weight.copy_(torch.linspace(0.05, 5.0, block.norm2.weight.numel()))
    x = torch.randn(2, 40, 96)
    with RangeRecorder(net.backbone) as recorder, torch.no_grad():
        reference = block.mlp.fc1(block.norm2(x))
        block(x)
    name = "blocks.0.mlp.fc1"
    low, high = recorder.ranges[name]
    smoothed = smooth_block_inputs(net.backbone, recorder.ranges)
    with torch.no_grad():
        torch.testing.assert_close(block.mlp.fc1(block.norm2(x)), reference, rtol=1e-4, atol=1e-5)
        new_low, new_high = smoothed[name]
        width, new_width = high - low, new_high - new_low
    assert float(width.max() / width.min()) > 20                      # before: a 100x spread of gammas
    assert float(new_width.max() / new_width.min()) < float(width.max() / width.min()) / 4
    assert torch.equal(recorder.ranges[name][0], low)                  # the caller's ranges are not changed
