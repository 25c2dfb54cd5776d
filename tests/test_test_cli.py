"""tracking/test.py and tracking/create_default_local_file.py end to end on a tiny synthetic
LasHeR-layout dataset, with a checkpoint saved from a freshly built tiny network."""
import importlib.util
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.config import load_config

REPO = Path(__file__).resolve().parents[1]
CONFIG = "tiny_demo"
TEST_EPOCH = load_config(CONFIG).TEST.EPOCH
CKPT_TAIL = Path("checkpoints/train/tbsi_track") / CONFIG / f"TBSITrack_ep{TEST_EPOCH:04d}.pth.tar"


def load_cli(name):
    spec = importlib.util.spec_from_file_location(f"cli_{name}", REPO / "tracking" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cli_main(argv):
    saved = warnings.formatwarning
    try:
        return load_cli("test").main(argv)
    finally:
        warnings.formatwarning = saved


def calibrate_main(argv):
    return load_cli("calibrate_int8").main(argv)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from lib.config import load_config
    from lib.data.synthetic import generate_dataset
    from lib.models.iimf import build_iimf

    ws = tmp_path_factory.mktemp("ws")
    generate_dataset(ws / "DATA" / "lasher", n_train=0, n_test=3, frames=6, size=(96, 80), seed=1)
    torch.manual_seed(0)
    net = build_iimf(load_config(CONFIG))
    ckpt = ws / "output" / CONFIG / CKPT_TAIL        # where the seed's training command puts it
    ckpt.parent.mkdir(parents=True)
    torch.save({"net": net.state_dict(), "epoch": 2}, ckpt)
    return ws


def results_of(save_dir, dataset="lasher_test", param=CONFIG):
    return Path(save_dir) / "test" / "tracking_results" / "tbsi_track" / param / dataset


def test_seed_command_end_to_end_and_resume(workspace, capsys):
    from lib.config import load_config
    from lib.data.datasets import get_dataset
    from lib.test.tracker import build_tracker

    save = workspace / "output"
    cmd = [sys.executable, str(REPO / "tracking" / "test.py"), "tbsi_track", CONFIG, "--dataset_name", "lasher_test",
           "--threads", "2", "--num_gpus", "1", "--data_dir", "DATA", "--save_dir", "output"]
    proc = subprocess.run(cmd, cwd=workspace, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "running on the CPU" in proc.stderr or "cuda" in proc.stdout
    assert "with up to 2 worker processes" in proc.stdout
    out = results_of(save)
    ds = get_dataset("lasher_test", workspace / "DATA" / "lasher")
    assert len(ds) == 3
    tracker = build_tracker(load_config(CONFIG), save / CONFIG / CKPT_TAIL, "cpu")
    for seq in ds:
        rows = [list(map(float, line.split(","))) for line in (out / f"{seq.name}.txt").read_text().splitlines()]
        assert len(rows) == seq.num_frames == 6
        assert rows[0] == seq.init_box.tolist()
        assert len((out / f"{seq.name}_time.txt").read_text().split()) == 6
        # the same boxes as tracking in this process (other thread count: float32 noise only)
        expected = [tracker.initialize(seq.read_frame(0), seq.init_box)]
        expected += [tracker.track(seq.read_frame(i)) for i in range(1, seq.num_frames)]
        np.testing.assert_allclose(rows, expected, rtol=0, atol=1e-3)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    # rerun: everything is complete, nothing is rewritten
    assert cli_main(["tbsi_track", CONFIG, "--data_dir", str(workspace / "DATA"), "--save_dir", str(save),
                     "--no_progress"]) == 0
    err = capsys.readouterr().err
    assert "3 of 3 sequences already have complete results" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_single_sequence_explicit_checkpoint_and_epoch(workspace, tmp_path, capsys):
    ckpt = workspace / "output" / CONFIG / CKPT_TAIL
    from lib.data.datasets import get_dataset

    name = get_dataset("lasher_test", workspace / "DATA" / "lasher").names[1]
    rc = cli_main(["tbsi_track", CONFIG, "--sequence", name, "--checkpoint", str(ckpt), "--epoch", "7",
                   "--data_dir", str(workspace / "DATA"), "--save_dir", str(tmp_path), "--num_gpus", "0",
                   "--no_progress"])
    assert rc == 0
    out = results_of(tmp_path, param=f"{CONFIG}_007")              # another epoch: its own folder
    assert sorted(p.name for p in out.glob("*.txt")) == sorted([f"{name}.txt", f"{name}_time.txt"])
    # by index as well
    rc = cli_main(["tbsi_track", CONFIG, "--sequence", "0", "--checkpoint", str(ckpt),
                   "--data_dir", str(workspace / "DATA"), "--save_dir", str(tmp_path), "--no_progress"])
    assert rc == 0 and len(list(results_of(tmp_path).glob("*_time.txt"))) == 1


def test_missing_checkpoint_names_paths_tried(workspace, tmp_path, capsys):
    rc = cli_main(["tbsi_track", CONFIG, "--data_dir", str(workspace / "DATA"), "--save_dir", str(tmp_path),
                   "--epoch", "5"])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(tmp_path / CONFIG / "checkpoints/train/tbsi_track" / CONFIG / "TBSITrack_ep0005.pth.tar") in err
    assert str(tmp_path / "checkpoints/train/tbsi_track" / CONFIG / "TBSITrack_ep0005.pth.tar") in err


def test_missing_dataset_folder_names_setting_and_path(workspace, tmp_path, capsys):
    ckpt = workspace / "output" / CONFIG / CKPT_TAIL
    rc = cli_main(["tbsi_track", CONFIG, "--checkpoint", str(ckpt), "--data_dir", str(tmp_path / "nodata"),
                   "--save_dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "lasher_dir" in err and str(tmp_path / "nodata" / "lasher") in err
    rc = cli_main(["tbsi_track", CONFIG, "--checkpoint", str(ckpt), "--dataset_name", "gtot",
                   "--data_dir", str(workspace / "DATA"), "--save_dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "gtot_dir" in err and str(workspace / "DATA" / "gtot") in err


def test_bad_arguments(workspace, tmp_path, capsys):
    assert cli_main(["ostrack", CONFIG, "--data_dir", str(workspace / "DATA")]) == 2
    assert "unknown tracker 'ostrack'" in capsys.readouterr().err
    assert cli_main(["tbsi_track", "no_such_config", "--data_dir", str(workspace / "DATA")]) == 2
    assert "no_such_config" in capsys.readouterr().err
    assert cli_main(["tbsi_track", CONFIG, "--dataset_name", "otb", "--data_dir", str(workspace / "DATA")]) == 2
    assert "--dataset_name: unknown dataset 'otb'" in capsys.readouterr().err
    ckpt = workspace / "output" / CONFIG / CKPT_TAIL
    assert cli_main(["tbsi_track", CONFIG, "--checkpoint", str(ckpt), "--sequence", "nope",
                     "--data_dir", str(workspace / "DATA"), "--save_dir", str(tmp_path)]) == 2
    assert "no sequence named 'nope'" in capsys.readouterr().err


def test_broken_sequence_fails_clearly_others_complete(workspace, tmp_path, capsys):
    data = tmp_path / "DATA"
    shutil.copytree(workspace / "DATA", data)
    test_dir = data / "lasher" / "testingset"
    victim = sorted(p.name for p in test_dir.iterdir())[0]
    frame = sorted((test_dir / victim / "infrared").iterdir())[3]
    frame.write_bytes(b"garbage")
    ckpt = workspace / "output" / CONFIG / CKPT_TAIL
    argv = ["tbsi_track", CONFIG, "--checkpoint", str(ckpt), "--data_dir", str(data), "--save_dir", str(tmp_path),
            "--no_progress"]
    assert cli_main(argv) == 1
    err = capsys.readouterr().err
    assert f"sequence {victim!r}" in err and str(frame) in err
    out = results_of(tmp_path)
    assert not (out / f"{victim}.txt").exists() and len(list(out.glob("*_time.txt"))) == 2
    # --debug stops with the traceback of the first error
    with pytest.raises(OSError, match="cannot decode"):
        cli_main(argv + ["--debug", "--sequence", victim])


# ------------------------------------------------------------------ local settings
def test_create_default_local_file_and_settings(tmp_path, monkeypatch):
    from lib.config import settings as env

    (tmp_path / "DATA" / "LasHeR" / "testingset").mkdir(parents=True)      # other capitalisation
    (tmp_path / "DATA" / "rgbt234").mkdir()
    root = tmp_path / "root"
    proc = subprocess.run([sys.executable, str(REPO / "tracking" / "create_default_local_file.py"),
                           "--workspace_dir", ".", "--data_dir", "DATA", "--save_dir", "./output",
                           "--output_root", str(root)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    local = root / "lib/config/local.py"
    monkeypatch.setattr(env, "LOCAL_FILE", local)

    s = env.env_settings()
    assert s.lasher_dir == str(tmp_path / "DATA" / "LasHeR")
    assert s.rgbt234_dir == str(tmp_path / "DATA" / "rgbt234")
    assert s.rgbt210_dir == str(tmp_path / "DATA" / "rgbt210") and s.gtot_dir == str(tmp_path / "DATA" / "gtot")
    assert s.save_dir == str(tmp_path / "output")
    assert s.results_path == str(tmp_path / "output" / "test" / "tracking_results")
    assert s.workspace_dir == str(tmp_path) and s.pretrained_networks == str(tmp_path / "pretrained_models")
    assert env.dataset_dir(s, "lasher_test") == tmp_path / "DATA" / "LasHeR"
    with pytest.raises(env.SettingsError) as e:
        env.dataset_dir(s, "gtot")
    assert "gtot_dir" in str(e.value) and str(tmp_path / "DATA" / "gtot") in str(e.value) and str(local) in str(e.value)
    assert s.tensorboard_dir == str(tmp_path / "output" / "tensorboard")
    # --save_dir override keeps the rest of local.py
    s2 = env.env_settings(save_dir=tmp_path / "other")
    assert s2.save_dir == str(tmp_path / "other") and s2.lasher_dir == s.lasher_dir
    assert s2.results_path == str(tmp_path / "other" / "test" / "tracking_results")
    # OSTrack's two local.py files are shims that re-export the one file
    for shim in ("lib/train/admin/local.py", "lib/test/evaluation/local.py"):
        text = (root / shim).read_text()
        assert "from lib.config.local import *" in text and "lib/config/local.py" in text


def test_missing_local_file_error(tmp_path, monkeypatch):
    from lib.config import settings as env

    monkeypatch.setattr(env, "LOCAL_FILE", tmp_path / "lib/config/local.py")
    with pytest.raises(env.SettingsError) as e:
        env.env_settings()
    assert str(env.LOCAL_FILE) in str(e.value)
    assert "create_default_local_file.py --workspace_dir . --data_dir DATA --save_dir ./output" in str(e.value)
    # --data_dir works without local.py
    s = env.env_settings(data_dir=tmp_path / "D", save_dir=tmp_path / "S")
    assert s.lasher_dir == str(tmp_path / "D" / "lasher") and s.save_dir == str(tmp_path / "S")
    assert s.tensorboard_dir == str(tmp_path / "S" / "tensorboard")


def test_settings_from_data_dir_variants(tmp_path):
    from lib.data.datasets import get_dataset
    from lib.data.synthetic import generate_dataset
    from lib.config.settings import dataset_dir, settings_from_data_dir

    s = settings_from_data_dir(tmp_path / "D", save_dir=tmp_path / "out")
    assert s.lasher_dir == str(tmp_path / "D" / "lasher")
    assert s.results_path == str(tmp_path / "out" / "test" / "tracking_results")
    t = settings_from_data_dir(tmp_path / "D")
    assert t.save_dir == str(Path(t.workspace_dir) / "output")
    # DATA that is itself a LasHeR folder, and lasher_dir pointing at the testingset folder
    generate_dataset(tmp_path / "L", n_train=0, n_test=1, frames=2, size=(64, 64), seed=0)
    s = settings_from_data_dir(tmp_path / "L")
    assert s.lasher_dir == str(tmp_path / "L")
    s.lasher_dir = str(tmp_path / "L" / "testingset")
    assert len(get_dataset("lasher_test", dataset_dir(s, "lasher_test"))) == 1


def test_fast_paths_get_their_own_folders(workspace, tmp_path, capsys):
    """--precision int8 and --backend onnxruntime write to <config>_<variant>/, never over the exact
    results; the exact default path equals the plain (unfolded) network's boxes."""
    from lib.config import load_config
    from lib.data.datasets import get_dataset
    from lib.models.iimf import build_iimf, load_official_checkpoint
    from lib.test.tracker import IIMFTracker

    ckpt = workspace / "output" / CONFIG / CKPT_TAIL
    data = workspace / "DATA"
    name = get_dataset("lasher_test", data / "lasher").names[0]
    common = ["--sequence", name, "--checkpoint", str(ckpt), "--data_dir", str(data), "--save_dir", str(tmp_path),
              "--no_progress"]
    assert cli_main(["tbsi_track", CONFIG, *common]) == 0
    exact = np.loadtxt(results_of(tmp_path) / f"{name}.txt", delimiter=",")
    cfg = load_config(CONFIG)
    net = build_iimf(cfg)
    load_official_checkpoint(net, ckpt, verbose=False)
    seq = get_dataset("lasher_test", data / "lasher")[name]
    plain = IIMFTracker(net, cfg, "cpu")
    boxes = [plain.initialize(seq.read_frame(0), seq.init_box)]
    boxes += [plain.track(seq.read_frame(i)) for i in range(1, seq.num_frames)]
    np.testing.assert_allclose(exact, boxes, rtol=0, atol=1e-3)

    assert cli_main(["tbsi_track", CONFIG, "--precision", "int8", *common]) == 2   # not calibrated yet
    assert "calibrate_int8.py" in capsys.readouterr().err
    assert calibrate_main(["tbsi_track", CONFIG, "--checkpoint", str(ckpt), "--data_dir", str(data / "lasher"),
                           "--dataset_name", "lasher_test", "--sequences", "1", "--frames", "3"]) == 0
    assert cli_main(["tbsi_track", CONFIG, "--precision", "int8", *common]) == 0
    assert len(np.loadtxt(results_of(tmp_path, param=f"{CONFIG}_int8") / f"{name}.txt", delimiter=",")) == 6
    assert cli_main(["tbsi_track", CONFIG, "--precision", "int8", "--no_tie_check", *common]) == 0
    assert len(np.loadtxt(results_of(tmp_path, param=f"{CONFIG}_int8_unchecked") / f"{name}.txt", delimiter=",")) == 6
    assert cli_main(["tbsi_track", CONFIG, "--no_tie_check", *common]) == 2
    assert "--no_tie_check applies to the fast paths" in capsys.readouterr().err

    assert cli_main(["tbsi_track", CONFIG, "--backend", "onnxruntime", *common]) == 2
    assert "--onnx" in capsys.readouterr().err
    pytest.importorskip("onnxruntime")
    from lib.models.iimf.onnx_backend import export_onnx

    onnx_file = tmp_path / "tiny.onnx"
    export_onnx(net.eval(), cfg, onnx_file, metadata={"config": CONFIG, "checkpoint": str(ckpt)})
    onnx_args = ["tbsi_track", CONFIG, "--backend", "onnxruntime", "--onnx", str(onnx_file)]
    assert cli_main([*onnx_args, *common]) == 2               # --checkpoint has no meaning here: said so
    assert "weights are inside the ONNX file" in capsys.readouterr().err
    no_ckpt = [a for a in common if a != str(ckpt) and a != "--checkpoint"]
    assert cli_main([*onnx_args, *no_ckpt]) == 0
    onnx_boxes = np.loadtxt(results_of(tmp_path, param=f"{CONFIG}_onnxruntime") / f"{name}.txt", delimiter=",")
    np.testing.assert_allclose(onnx_boxes, exact, rtol=0, atol=1e-2)

    other = load_config(CONFIG)                               # a model exported for 160-px search crops
    other.DATA.SEARCH.SIZE = other.TEST.SEARCH_SIZE = 160
    wrong_size = tmp_path / "wrong_size.onnx"
    export_onnx(build_iimf(other).eval(), other, wrong_size)
    assert cli_main(["tbsi_track", CONFIG, "--backend", "onnxruntime", "--onnx", str(wrong_size), *no_ckpt]) == 2
    err = capsys.readouterr().err
    assert "wrong_size.onnx takes search_rgb of shape [1, 3, 160, 160]" in err and "TEST.SEARCH_SIZE 128" in err
    assert len(err.strip().splitlines()) == 1


def test_wrong_checkpoint_and_precision_fail_once_before_any_worker(workspace, tmp_path, capsys):
    from lib.config import load_config
    from lib.models.iimf import build_iimf

    cfg = load_config(CONFIG)
    cfg.MODEL.BACKBONE.EMBED_DIM = 48
    cfg.MODEL.BACKBONE.NUM_HEADS = 2
    other = tmp_path / "other.pth.tar"
    torch.save({"net": build_iimf(cfg).state_dict()}, other)
    base = ["tbsi_track", CONFIG, "--threads", "2", "--data_dir", str(workspace / "DATA"),
            "--save_dir", str(tmp_path / "out"), "--num_gpus", "0", "--no_progress"]
    assert cli_main(base + ["--checkpoint", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("does not match the model") == 1 and "wrong shape" in err
    assert not (tmp_path / "out" / "test").exists()
    not_a_checkpoint = tmp_path / "model.onnx"
    not_a_checkpoint.write_bytes(b"\x08\x07onnx")
    assert cli_main(base + ["--checkpoint", str(not_a_checkpoint)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    assert cli_main(base + ["--precision", "fp16", "--save_dir", str(workspace / "output")]) == 2
    assert "fp16 needs a GPU" in capsys.readouterr().err


def test_throughput_benchmark_reports_the_network_share_test_py_measured(workspace, tmp_path):
    import json

    ckpt = workspace / "output" / CONFIG / CKPT_TAIL
    report = tmp_path / "throughput.json"
    load_cli("benchmark_throughput").main(["--config", CONFIG, "--checkpoint", str(ckpt), "--data_dir",
                                           str(workspace / "DATA"), "--workers", "1", "--json", str(report)])
    (row,) = json.loads(report.read_text())["rows"]
    assert row["workers"] == 1 and row["frames"] == 3 * 5                 # frame 0 (initialisation) left out
    assert 0 < row["network_in_test_ms"] < row["test_ms_per_frame"]      # parsed from test.py's summary line
    assert row["forward_ms"] > 0
    assert row["test_over_forward"] == pytest.approx(row["test_ms_per_frame"] / row["forward_ms"])
