"""Inference variants: BatchNorm folding is exact, fast paths stay close, ONNX matches PyTorch."""
import copy

import pytest
import torch

from lib.models.iimf import build_iimf
from lib.models.iimf.inference import fold_batchnorm, prepare_for_inference

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
    return net, template, search, reference


def test_folded_batchnorm_gives_the_same_outputs(net_and_inputs):
    net, template, search, reference = net_and_inputs
    folded = fold_batchnorm(copy.deepcopy(net))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        out = folded(template=template, search=search, return_features=False)
    for key in HEAD_OUTPUTS:
        torch.testing.assert_close(out[key], reference[key], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("precision,tolerance", [("bf16", 0.05), ("int8", 0.05)])
def test_fast_paths_stay_close(net_and_inputs, precision, tolerance):
    net, template, search, reference = net_and_inputs
    fast = prepare_for_inference(copy.deepcopy(net), precision, "cpu")
    with torch.no_grad():
        out = fast(template=template, search=search, return_features=False)
    assert out["score_map"].dtype == torch.float32
    for key in ["score_map", "size_map"]:
        assert (out[key] - reference[key]).abs().max() < tolerance
    assert not torch.equal(out["size_map"], reference["size_map"])  # it really ran another kernel


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


def test_exact_path_runs_linear_layers_on_onednn_with_the_same_outputs(net_and_inputs):
    from lib.models.iimf.inference import OneDNNLinear, onednn_linear_available
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
