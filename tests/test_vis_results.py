"""tracking/vis_results.py on a tiny synthetic LasHeR-layout dataset: panels, grid figure, video, PNG frames."""
import cv2
import numpy as np
import pytest
from PIL import Image

from lib.analysis.qualitative import GT_COLOUR, load_tracker_boxes, tracker_colour
from lib.data.datasets import get_dataset
from lib.data.synthetic import generate_dataset
from tracking.vis_results import USER_ERROR, main

WIDTH, HEIGHT, FRAMES = 96, 80, 6


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """DATA/lasher with 2 test sequences, a tracker 'A' (the GT moved 4 px right, 12 down) and a tracker 'B'
    that publishes <prefix><seq>.txt files in %.18e, one row short."""
    root = tmp_path_factory.mktemp("vis")
    generate_dataset(root / "DATA" / "lasher", n_train=0, n_test=2, frames=FRAMES, size=(WIDTH, HEIGHT), seed=4,
                     traps=False)
    dataset = get_dataset("lasher_test", root / "DATA" / "lasher")
    (root / "A").mkdir()
    (root / "B").mkdir()
    for seq in dataset:
        gt = seq.ground_truth
        np.savetxt(root / "A" / f"{seq.name}.txt", gt + [4, 12, 0, 0], fmt="%.2f", delimiter=",")
        np.savetxt(root / "B" / f"pub_{seq.name}.txt", gt[:-1] + [0, 0, 4, 4], fmt="%.18e")
    return root, dataset


def read_png(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_grid_figure_shows_gt_and_each_tracker_in_its_colour(data, capsys):
    root, dataset = data
    seq = dataset[0]
    out = root / "fig.png"
    argv = ["--data_dir", str(root / "DATA"), "--sequence", seq.name, "--results_dir", f"A={root / 'A'}",
            "--results_dir", f"B={root / 'B'}", "--grid", str(out), "--frames", "0,3", "--columns", "2"]
    assert main(argv) == 0
    assert f"figure written to {out} (2 panels)" in capsys.readouterr().out
    image = read_png(out)
    pad = 4
    assert image.shape[1] == 2 * (2 * WIDTH + pad) + pad and image.shape[0] > HEIGHT + 2 * pad
    checked = set()
    for column, frame in enumerate((0, 3)):
        left = pad + column * (2 * WIDTH + pad)
        for half in (0, WIDTH):                                      # RGB half, then TIR half
            x, y, w, h = (int(round(v)) for v in seq.ground_truth[frame])
            probes = (((y + h // 2, x), GT_COLOUR),                     # the GT's left edge
                      ((y + h + 12, x + 4 + w // 2), tracker_colour(0)),  # A's bottom edge, 12 px lower
                      ((y + h + 4, x + 1), tracker_colour(1)))          # B's bottom edge, 4 px lower
            for (row, col), colour in probes:
                if col < WIDTH and row < HEIGHT:
                    assert tuple(image[pad + row, left + half + col]) == colour, (frame, half, colour)
                    checked.add(colour)
    assert len(checked) == 3
    legend = image[pad + HEIGHT + pad:]
    for colour in (GT_COLOUR, tracker_colour(0), tracker_colour(1)):
        assert (legend == colour).all(axis=2).any()


def test_video_and_png_frames(data, capsys):
    root, dataset = data
    argv = ["--data_dir", str(root / "DATA"), "--sequence", dataset[1].name, "--results_dir", f"B={root / 'B'}:pub_",
            "--video", str(root / "vid"), "--video_format", "gif", "--frames_dir", str(root / "png"), "--every", "2"]
    assert main(argv) == 0
    gif = Image.open(root / "vid" / f"{dataset[1].name}.gif")
    assert gif.n_frames == FRAMES // 2 and gif.size[0] == 2 * WIDTH
    pngs = sorted(p.name for p in (root / "png" / dataset[1].name).iterdir())
    assert pngs == ["00000.png", "00002.png", "00004.png"]
    assert read_png(root / "png" / dataset[1].name / "00004.png").shape[:2] == gif.size[::-1]


@pytest.mark.parametrize("extra, message", [
    (["--sequence", "nosuchseq"], "nosuchseq"),
    (["--frames", "0,99"], "has 6 frames (0..5); --frames asks for [99]"),
    (["--results_dir", "X=/no/such/folder"], "/no/such/folder: results folder not found"),
])
def test_bad_input_is_one_line(data, capsys, extra, message):
    root, dataset = data
    argv = ["--data_dir", str(root / "DATA"), "--grid", str(root / "bad.png"), "--frames", "0"]
    if "--sequence" not in extra:
        argv += ["--sequence", dataset[0].name]
    assert main(argv + extra) == USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_eight_value_rows_are_drawn_as_the_toolkits_read_them(tmp_path):
    (tmp_path / "seq1.txt").write_text("10.4 20.6 30.5 20.6 30.5 40.5 10.4 40.5\n")
    tracker = load_tracker_boxes("T", 3, tmp_path, ["seq1"], "gtot")
    np.testing.assert_array_equal(tracker.boxes["seq1"], [[10, 21, 20, 20]])
    assert tracker.colour == tracker_colour(3)
