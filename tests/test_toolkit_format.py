"""Results in the RGBT234 toolkit's 8-value format: written by test.py on request, read back as the
toolkit reads them (and by our toolkit protocol)."""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import torch

from lib.analysis.boxfile import read_box_file
from lib.analysis.toolkit_format import corner_rows, write_toolkit_results
from lib.analysis.toolkit_protocol import corner_rows_to_boxes, matlab_round

REPO = Path(__file__).resolve().parents[1]
CONFIG = "tiny_demo"


def test_corner_rows_give_back_the_box_as_the_toolkit_reads_it():
    boxes = np.array([[10.25, 20.5, 30.75, 40.4], [0, 0, 1, 1], [5.5, 6.5, 7.5, 8.5]])
    rows = corner_rows(boxes)
    np.testing.assert_array_equal(rows[0], [10.25, 20.5, 41.0, 20.5, 41.0, 60.9, 10.25, 60.9])
    np.testing.assert_allclose(corner_rows_to_boxes(rows), matlab_round(boxes))


def test_write_toolkit_results_converts_every_result_file(tmp_path):
    results = tmp_path / "rgbt234"
    results.mkdir()
    (results / "seqA.txt").write_text("1.5,2,3,4\n5,6,7.25,8\n")
    (results / "seqA_time.txt").write_text("0.1\n0.1\n")
    out = write_toolkit_results(results, ["seqA", "missing"])
    assert out == tmp_path / "rgbt234_toolkit" and sorted(p.name for p in out.iterdir()) == ["seqA.txt"]
    assert (out / "seqA.txt").read_text().splitlines()[0] == "1.5000 2.0000 4.5000 2.0000 4.5000 6.0000 1.5000 6.0000"
    np.testing.assert_allclose(read_box_file(out / "seqA.txt", columns=(8,))[:, [0, 1]], [[1.5, 2], [5, 6]])


def rgbt234_from_synthetic(root):
    """One synthetic sequence in the RGBT234 layout (visible/, infrared/, visible.txt, infrared.txt, init.txt)."""
    from lib.data.synthetic import generate_dataset
    generate_dataset(root / "lasher", n_train=0, n_test=1, frames=5, size=(96, 80), seed=2, traps=False)
    seq_dir = next((root / "lasher" / "testingset").iterdir())
    target = root / "rgbt234" / "seqA"
    shutil.copytree(seq_dir / "visible", target / "visible")
    shutil.copytree(seq_dir / "infrared", target / "infrared")
    for name in ("init.txt", "visible.txt", "infrared.txt"):
        shutil.copy(seq_dir / "init.txt", target / name)
    return target


def test_test_py_writes_the_toolkit_format_on_request(tmp_path, capsys):
    from lib.config import load_config
    from lib.models.iimf import build_iimf
    seq_dir = rgbt234_from_synthetic(tmp_path / "DATA")
    torch.manual_seed(0)
    checkpoint = tmp_path / "net.pth.tar"
    torch.save({"net": build_iimf(load_config(CONFIG)).state_dict(), "epoch": 1}, checkpoint)
    spec = importlib.util.spec_from_file_location("cli_test", REPO / "tracking" / "test.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = ["tbsi_track", CONFIG, "--dataset_name", "rgbt234", "--data_dir", str(tmp_path / "DATA"),
            "--save_dir", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--num_gpus", "0",
            "--no_progress", "--result_format", "rgbt234_toolkit"]
    assert cli.main(argv) == 0
    results = tmp_path / "out" / "test" / "tracking_results" / "tbsi_track" / CONFIG / "rgbt234"
    assert f"RGBT234 toolkit files (8 values per row) in {results}_toolkit" in capsys.readouterr().out
    boxes = read_box_file(results / "seqA.txt")
    rows = read_box_file(Path(f"{results}_toolkit") / "seqA.txt", columns=(8,))
    assert rows.shape == (5, 8)
    np.testing.assert_allclose(corner_rows_to_boxes(rows), matlab_round(boxes), atol=1e-9)
    np.testing.assert_array_equal(rows[0], corner_rows(np.loadtxt(seq_dir / "init.txt", delimiter=",", ndmin=2))[0])
    argv[argv.index("rgbt234")] = "lasher_test"
    assert cli.main(argv) == 2
    assert "--result_format rgbt234_toolkit is the RGBT234 toolkit's format" in capsys.readouterr().err
