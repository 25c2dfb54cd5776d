"""tracking/benchmark_inference.py: the report's numbers are the ones the paths really produce."""
import json
import sys
from pathlib import Path

import pytest
import torch

from lib.config import load_config
from lib.data.synthetic import generate_dataset
from lib.models.iimf import build_iimf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracking"))
import benchmark_inference  # noqa: E402


@pytest.fixture(scope="module")
def data_and_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    generate_dataset(root / "data", n_train=1, n_test=2, frames=6, size=(160, 128), seed=5, traps=False)
    torch.manual_seed(1)
    ckpt = root / "tiny.pth.tar"
    torch.save({"net": build_iimf(load_config("tiny_demo")).state_dict()}, ckpt)
    return root / "data", ckpt


def test_report_has_speeds_scores_and_deviations(data_and_checkpoint, tmp_path, capsys):
    data, ckpt = data_and_checkpoint
    out = tmp_path / "bench.json"
    benchmark_inference.main(["--config", "tiny_demo", "--checkpoint", str(ckpt), "--data_dir", str(data),
                              "--paths", "plain,exact,int8", "--runs", "1", "--threads", "1", "--json", str(out)])
    report = json.loads(out.read_text())
    paths = report["paths"]
    assert set(paths) == {"plain", "exact", "int8"}
    assert paths["plain"]["speedup_vs_plain"] == pytest.approx(1.0)
    for name, entry in paths.items():
        assert entry["latency_ms"] > 0 and entry["fps"] == pytest.approx(1000 / entry["latency_ms"])
        assert 0 <= entry["boxes"]["SR"] <= 100 and 0 <= entry["boxes"]["PR"] <= 100
    frames = 2 * 5  # every frame after the first, of both sequences
    assert "same_crops" not in paths["exact"]["boxes"]
    plain, int8 = paths["plain"]["boxes"], paths["int8"]["boxes"]
    assert plain["same_crops"]["frames"] == int8["own_tracking"]["frames"] == frames
    assert plain["same_crops"]["max_px"] < 1e-2           # the original's arithmetic: float32 noise only
    assert 0 < int8["same_crops"]["max_px"]               # another kernel really ran
    assert 0 <= int8["rechecked_frames"] <= 1 and "rechecked_frames" not in plain   # as test.py runs int8
    assert report["crop_moved_1px"]["frames"] == frames and report["crop_moved_1px"]["max_px"] > 0
    printed = capsys.readouterr().out
    assert "same crops" in printed and "crop moved by 1 px" in printed


def test_unknown_path_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        benchmark_inference.main(["--config", "tiny_demo", "--paths", "exact,fp64", "--runs", "1"])
    assert exit_info.value.code == 2 and "unknown fp64" in capsys.readouterr().err
