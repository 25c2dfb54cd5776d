"""profile_model's numbers: parameter bookkeeping, FLOPs and the JSON it writes."""
import json
import subprocess
import sys

from lib.config import load_config
from lib.models.iimf import build_iimf
from lib.models.iimf.checkpoint import parameter_counts
from lib.utils.profiling import count_flops, tracking_inputs


def test_dead_parameter_count_matches_the_official_tables():
    # docs/model.md#parameter-counts: official 200,252,037 (SOT) and 240,415,365 (in1k) parameters.
    sot = parameter_counts(build_iimf(load_config("vitb_256_tbsi_32x1_1e4_lasher_15ep_sot")))
    in1k = parameter_counts(build_iimf(load_config("vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k")))
    assert sot["params_official"] == 200_252_037
    assert in1k["params_official"] == 240_415_365


def test_flops_scale_with_the_matrix_sizes(tiny_cfg):
    net = build_iimf(tiny_cfg).eval()
    template, search = tracking_inputs(tiny_cfg)
    flops = count_flops(lambda: net(template=template, search=search, return_features=False))
    # Lower bound: the qkv, proj and MLP matmuls of the ViT blocks alone.
    dim, tokens = 96, 16 + 64
    per_stream_block = 2 * tokens * (3 * dim * dim + dim * dim + 2 * 4 * dim * dim)
    streams_per_block = [2, 2, 3, 3]
    assert flops > per_stream_block * sum(streams_per_block)
    assert flops < 3 * per_stream_block * sum(streams_per_block)


def test_cli_writes_the_documented_json(tmp_path):
    out = tmp_path / "profile.json"
    subprocess.run([sys.executable, "tracking/profile_model.py", "--config", "tiny_demo", "--runs", "2",
                    "--threads", "1", "--json", str(out)], check=True, capture_output=True)
    data = json.loads(out.read_text())
    for key in ("params_m", "gflops", "latency_ms", "fps"):
        assert data[key] > 0
    assert abs(data["fps"] - 1000 / data["latency_ms"]) < 1e-6
    assert data["params_official"] - data["params"] == data["params_dropped"] > 0
