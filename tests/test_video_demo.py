"""video_demo.py end to end on synthetic frame folders and videos, and its input checks."""
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from lib.config import load_config
from lib.data.synthetic import generate_dataset
from lib.models.iimf import build_iimf
from lib.utils.video import FrameSource, VideoWriter


@pytest.fixture(scope="module")
def sequence_and_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    generate_dataset(root / "data", n_train=0, n_test=1, frames=12, size=(160, 128), seed=3, traps=False)
    seq = next(p for p in (root / "data" / "testingset").iterdir() if p.is_dir())
    torch.manual_seed(0)
    ckpt = root / "tiny.pth.tar"
    torch.save({"net": build_iimf(load_config("tiny_demo")).state_dict()}, ckpt)
    return seq, ckpt


def run_demo(*args):
    return subprocess.run([sys.executable, "tracking/video_demo.py", "tbsi_track", "tiny_demo", *map(str, args)],
                          capture_output=True, text=True)


def test_folders_to_annotated_video(sequence_and_checkpoint, tmp_path):
    seq, ckpt = sequence_and_checkpoint
    out, boxes = tmp_path / "demo.avi", tmp_path / "boxes.txt"
    result = run_demo("--rgb", seq / "visible", "--tir", seq / "infrared", "--checkpoint", ckpt,
                      "--out", out, "--boxes", boxes, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    rows = np.loadtxt(boxes, delimiter=",")
    gt = np.loadtxt(seq / "init.txt", delimiter=",")
    assert rows.shape == (12, 4)
    np.testing.assert_allclose(rows[0], gt[0])           # initialised from the GT next to the frames
    assert (rows[1:, 2:] >= 10).all()                    # clip_box keeps at least 10 px
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    ok, first = capture.read()
    assert ok and first.shape == (128, 320, 3)           # RGB and TIR side by side


def test_videos_in_and_gif_out(sequence_and_checkpoint, tmp_path):
    seq, ckpt = sequence_and_checkpoint
    for modality in ("visible", "infrared"):
        writer = VideoWriter(tmp_path / f"{modality}.avi", fps=10)
        for frame in FrameSource(seq / modality, modality):
            writer.write(frame)
        writer.close()
    out = tmp_path / "demo.gif"
    result = run_demo("--rgb", tmp_path / "visible.avi", "--tir", tmp_path / "infrared.avi",
                      "--init", "40,40,20,20", "--checkpoint", ckpt, "--out", out)
    assert result.returncode == 0, result.stderr
    from PIL import Image
    assert Image.open(out).n_frames == 12


def test_fast_paths_from_the_command_line(sequence_and_checkpoint, tmp_path):
    """--backend onnxruntime gives the exact path's boxes; --precision int8 runs its own kernels."""
    pytest.importorskip("onnxruntime")
    from lib.models.iimf.onnx_backend import export_onnx
    seq, ckpt = sequence_and_checkpoint
    cfg = load_config("tiny_demo")
    net = build_iimf(cfg)
    net.load_state_dict(torch.load(ckpt, weights_only=True)["net"])
    onnx = export_onnx(net, cfg, tmp_path / "tiny.onnx")
    calibration = subprocess.run([sys.executable, "tracking/calibrate_int8.py", "tbsi_track", "tiny_demo",
                                  "--checkpoint", str(ckpt), "--data_dir", str(seq.parents[1]), "--dataset_name",
                                  "lasher_test", "--sequences", "1", "--frames", "4"], capture_output=True, text=True)
    assert calibration.returncode == 0, calibration.stderr
    common = ["--rgb", seq / "visible", "--tir", seq / "infrared", "--device", "cpu"]
    rows = {}
    for name, extra in (("exact", ["--checkpoint", ckpt]), ("onnx", ["--backend", "onnxruntime", "--onnx", onnx]),
                        ("int8", ["--checkpoint", ckpt, "--precision", "int8"])):
        boxes = tmp_path / f"{name}.txt"
        result = run_demo(*common, *extra, "--out", tmp_path / f"{name}.gif", "--boxes", boxes)
        assert result.returncode == 0, result.stderr
        rows[name] = np.loadtxt(boxes, delimiter=",")
    np.testing.assert_allclose(rows["onnx"], rows["exact"], atol=1e-2)
    assert rows["int8"].shape == rows["exact"].shape and np.isfinite(rows["int8"]).all()
    result = run_demo(*common, "--checkpoint", ckpt, "--onnx", onnx, "--out", tmp_path / "x.gif")
    assert result.returncode == 2 and "--backend onnxruntime and --onnx" in result.stderr
    result = run_demo(*common, "--checkpoint", ckpt, "--backend", "onnxruntime", "--onnx", onnx, "--out", tmp_path / "x.gif")
    assert result.returncode == 2 and "weights are inside the ONNX file" in result.stderr
    random_weights = export_onnx(net, cfg, tmp_path / "random.onnx", metadata={"config": "tiny_demo", "checkpoint": ""})
    result = run_demo(*common, "--backend", "onnxruntime", "--onnx", random_weights, "--out", tmp_path / "r.gif")
    assert result.returncode == 0 and "exported without --checkpoint: random weights" in result.stderr


def test_mismatched_inputs_are_clear_errors(sequence_and_checkpoint, tmp_path):
    seq, ckpt = sequence_and_checkpoint
    short = tmp_path / "short"
    shutil.copytree(seq / "infrared", short)
    sorted(short.iterdir())[-1].unlink()
    result = run_demo("--rgb", seq / "visible", "--tir", short, "--checkpoint", ckpt, "--init", "1,1,5,5")
    assert result.returncode != 0 and "12 frames" in result.stderr and "11" in result.stderr
    small = tmp_path / "small"
    small.mkdir()
    for k, frame in enumerate(FrameSource(seq / "infrared", "TIR")):
        cv2.imwrite(str(small / f"i{k:03d}.png"), frame[:64, :80])
    result = run_demo("--rgb", seq / "visible", "--tir", small, "--checkpoint", ckpt, "--init", "1,1,5,5")
    assert result.returncode != 0 and "160x128" in result.stderr and "80x64" in result.stderr
    result = run_demo("--rgb", seq / "visible", "--tir", seq / "infrared", "--checkpoint", ckpt, "--init", "1,1,0,5")
    assert result.returncode != 0 and "--init" in result.stderr
