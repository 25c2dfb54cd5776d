"""Inference variants: BatchNorm folding is exact, fast paths stay close, ONNX matches PyTorch."""
import copy

import pytest
import torch

from lib.models.iimf import build_iimf
from lib.models.iimf.cpu_kernels import attention_uses_flash
from lib.models.iimf.inference import fold_batchnorm, prepare_for_inference
from lib.models.iimf.int8 import RangeRecorder, StaticInt8Linear

HEAD_OUTPUTS = ["pred_boxes", "score_map", "size_map", "offset_map"]


@pytest.fixture
def net_and_inputs(tiny_cfg):
    torch.manual_seed(0)
    net = build_iimf(tiny_cfg).eval()
    for module in net.modules():  # non-trivial BatchNorm statistics, so folding is really exercised
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.normal_()
    template = [torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)]
    search = [torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128)]
    with torch.no_grad():
        reference = net(template=template, search=search, return_features=False)
        with RangeRecorder(net.backbone) as recorder:  # int8 calibrated on these inputs, every layer run
            net(template=template, search=search, return_features=True)
    net.int8_ranges = recorder.ranges
    return net, template, search, reference


def prepared(net, precision):
    """A prepared copy of the fixture's net (int8 with the fixture's calibration)."""
    return prepare_for_inference(copy.deepcopy(net), precision, "cpu", int8_ranges=net.int8_ranges)


def test_folded_batchnorm_gives_the_same_outputs(net_and_inputs):
    net, template, search, reference = net_and_inputs
    folded = fold_batchnorm(copy.deepcopy(net))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        out = folded(template=template, search=search, return_features=False)
    for key in HEAD_OUTPUTS:
        torch.testing.assert_close(out[key], reference[key], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("precision,tolerance", [("bf16", 1e-3), ("int8", 3e-3)])
def test_fast_paths_stay_close(net_and_inputs, precision, tolerance):
    """Only the backbone is approximated, so the head maps stay close (bf16 within 4e-4 here; with
    the head in bf16 too the size map was 4e-3 off) and are returned in float32."""
    net, template, search, reference = net_and_inputs
    fast = prepared(net, precision)
    with torch.no_grad():
        out = fast(template=template, search=search, return_features=True)
    for key in HEAD_OUTPUTS:
        assert out[key].dtype == torch.float32
        assert (out[key] - reference[key]).abs().max() < tolerance, key
    assert out["backbone_feat"].dtype == torch.float32 and out["backbone_feat"].shape[1] == 3 * (16 + 64)
    assert not torch.equal(out["size_map"], reference["size_map"])  # it really ran another kernel


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_fast_paths_approximate_the_backbone_only(net_and_inputs, precision):
    net = net_and_inputs[0]
    fast = prepared(net, precision)
    model = getattr(fast, "net", fast)
    head_params = [p for part in (model.tbsi_fuse_search, model.tbsi_fuse_middle, model.box_head)
                   for p in part.parameters()]
    assert head_params and all(p.dtype == torch.float32 for p in head_params)
    head_modules = [m for part in (model.tbsi_fuse_search, model.box_head) for m in part.modules()]
    assert not any(isinstance(m, StaticInt8Linear) for m in head_modules)
    backbone_linears = [m for m in model.backbone.modules() if "Linear" in type(m).__name__]
    if precision == "bf16":
        assert all(m.weight.dtype == torch.bfloat16 for m in backbone_linears)
        flash = attention_uses_flash()  # the flash kernel where AMX is, two bf16 products elsewhere
        assert all(m.fused_attn == flash for m in model.backbone.modules() if hasattr(m, "fused_attn"))
    else:
        assert backbone_linears and all(isinstance(m, StaticInt8Linear) for m in backbone_linears)


def test_precision_errors_name_the_problem(net_and_inputs):
    net = net_and_inputs[0]
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        prepare_for_inference(copy.deepcopy(net), "fp16", "cpu")
    with pytest.raises(ValueError, match="not one of"):
        prepare_for_inference(copy.deepcopy(net), "fp8", "cpu")


def test_onnx_export_matches_pytorch(net_and_inputs, tiny_cfg, tmp_path):
    pytest.importorskip("onnxruntime")
    from lib.models.iimf.onnx_backend import OnnxRuntimeNet, export_onnx
    net, template, search, reference = net_and_inputs
    path = export_onnx(net, tiny_cfg, tmp_path / "tiny.onnx")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the caller's net is untouched
    out = OnnxRuntimeNet(path, threads=1)(template, search)
    for key in HEAD_OUTPUTS:
        torch.testing.assert_close(out[key], reference[key], atol=1e-4, rtol=1e-4)
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        OnnxRuntimeNet(tmp_path / "missing.onnx")
    session = OnnxRuntimeNet(path, threads=1)
    session.check_config(tiny_cfg)
    other = copy.deepcopy(tiny_cfg)
    other.MODEL.HEAD.NUM_CHANNELS = 32          # same crop sizes, another network
    with pytest.raises(ValueError, match="settings differ"):
        session.check_config(other)


def test_exact_path_runs_linear_layers_on_onednn_with_the_same_outputs(net_and_inputs):
    from lib.models.iimf.cpu_kernels import OneDNNLinear, onednn_linear_available
    net, template, search, reference = net_and_inputs
    exact = prepare_for_inference(copy.deepcopy(net), "fp32", "cpu")
    swapped = [m for m in exact.modules() if isinstance(m, OneDNNLinear)]
    if onednn_linear_available():
        assert swapped and not any(isinstance(m, torch.nn.Linear) for m in exact.modules())
        assert any(m.activation == "gelu" for m in swapped)
    with torch.no_grad():
        out = exact(template=template, search=search, return_features=False)
    for key in HEAD_OUTPUTS:
        torch.testing.assert_close(out[key], reference[key], atol=1e-5, rtol=1e-5)


def test_bf16_on_a_cpu_without_native_bf16_says_to_use_int8(net_and_inputs, monkeypatch):
    from lib.models.iimf import inference
    monkeypatch.setattr(inference, "bf16_fast_on_cpu", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16.*use int8"):
        prepare_for_inference(copy.deepcopy(net_and_inputs[0]), "bf16", "cpu")


class _FixedMaps(torch.nn.Module):
    """A stand-in network returning fixed head maps (and counting its calls)."""

    def __init__(self, score_map, size=0.1):
        super().__init__()
        self.score_map, self.size, self.calls = score_map, size, 0

    def forward(self, template, search, return_features=False):
        self.calls += 1
        return {"score_map": self.score_map, "size_map": torch.full((1, 2, 4, 4), self.size),
                "offset_map": torch.zeros(1, 2, 4, 4)}


def test_tie_check_recomputes_only_the_undecided_frames():
    from lib.test.tracker import TieCheckedNet
    window = torch.ones(1, 1, 4, 4)
    decided = torch.zeros(1, 1, 4, 4)
    decided[0, 0, 1, 1], decided[0, 0, 2, 2] = 0.9, 0.8      # best two cells 0.1 apart
    undecided = decided.clone()
    undecided[0, 0, 2, 2] = 0.895                             # 0.005 apart
    exact = _FixedMaps(decided, size=0.3)
    for fast_map, expect_exact in ((decided, False), (undecided, True)):
        fast = _FixedMaps(fast_map)
        net = TieCheckedNet(fast, exact, window, margin=0.02)
        out = net(template=None, search=None)
        assert fast.calls == 1 and net.frames == 1 and net.rechecked == int(expect_exact)
        assert float(out["size_map"][0, 0, 0, 0]) == pytest.approx(0.3 if expect_exact else 0.1)
    assert exact.calls == 1


def test_fast_network_is_tie_checked_unless_asked_not_to(tiny_cfg, net_and_inputs):
    from lib.test.tracker import TIE_MARGINS, TieCheckedNet, fast_network
    net = net_and_inputs[0]
    checked = fast_network(copy.deepcopy(net), tiny_cfg, "int8", "cpu", int8_ranges=net.int8_ranges)
    assert isinstance(checked, TieCheckedNet) and checked.margin == TIE_MARGINS["int8"]
    assert tuple(checked.window.shape[-2:]) == (8, 8)        # search 128 / stride 16
    assert not isinstance(fast_network(copy.deepcopy(net), tiny_cfg, "int8", "cpu", tie_check=False,
                                       int8_ranges=net.int8_ranges), TieCheckedNet)
    assert not isinstance(fast_network(copy.deepcopy(net), tiny_cfg, "fp32", "cpu"), TieCheckedNet)


def test_fast_paths_on_a_cpu_without_their_instructions_name_the_exact_path(net_and_inputs, monkeypatch):
    from lib.models.iimf import inference
    monkeypatch.setattr(inference, "int8_fast_on_cpu", lambda: False)
    with pytest.warns(UserWarning, match="no int8 dot-product instructions.*use fp32"):
        prepared(net_and_inputs[0], "int8")
    monkeypatch.setattr(inference, "bf16_fast_on_cpu", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16.*use fp32"):
        prepared(net_and_inputs[0], "bf16")


def test_int8_attention_runs_in_float32_on_a_cpu_without_native_bf16(net_and_inputs, monkeypatch):
    from lib.models.iimf import int8
    net, template, search, reference = net_and_inputs
    monkeypatch.setattr(int8, "bf16_fast_on_cpu", lambda: False)
    fast = prepared(net, "int8")
    assert all(block.attention_dtype is None for block in fast.backbone.blocks)
    with torch.no_grad():
        out = fast(template=template, search=search, return_features=False)
    assert (out["size_map"] - reference["size_map"]).abs().max() < 3e-3


def test_exact_float32_on_gpus_leaves_torch_flags_readable():
    """The exact path turns TF32 off for GPUs with flags that torch can still read afterwards (mixing
    its legacy and per-backend APIs makes torch refuse to report them, e.g. in cudnn.flags())."""
    from lib.models.iimf.inference import use_ieee_float32_on_gpus
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        use_ieee_float32_on_gpus()
        assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
        with torch.backends.cudnn.flags(enabled=True):
            pass
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
