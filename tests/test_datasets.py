import pickle
import time

import cv2
import numpy as np
import pytest

from lib.data.datasets import (
    DatasetError,
    DatasetNotFoundError,
    get_dataset,
    list_frames,
    natural_key,
)
from lib.data.synthetic import generate_dataset
from lib.utils.io import ImageReadError, ImageNotFoundError


# ------------------------------------------------------------------ helpers
def _img(path, value, size=(12, 10), grey=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    if grey:
        im = np.full((h, w), value, np.uint8)
    else:
        im = np.zeros((h, w, 3), np.uint8)
        im[..., 2] = value  # R in OpenCV's BGR
        im[..., 1] = 7
    ok, buf = cv2.imencode(path.suffix, im)
    assert ok
    path.write_bytes(buf.tobytes())


def make_seq(folder, n=3, rgb="visible", tir="infrared", gt_rows=None, gt_name="init.txt", n_tir=None,
             rgb_names=None, tir_names=None, ext=".png", tir_size=(12, 10)):
    rgb_names = rgb_names or [f"v{k + 1:06d}{ext}" for k in range(n)]
    n_tir = n if n_tir is None else n_tir
    tir_names = tir_names or [f"i{k + 1:06d}{ext}" for k in range(n_tir)]
    for k, nm in enumerate(rgb_names):
        _img(folder / rgb / nm, 100 + k)
    for k, nm in enumerate(tir_names):
        _img(folder / tir / nm, 50 + k, size=tir_size, grey=True)
    if gt_rows is None:
        gt_rows = [f"{k},{k + 1},5,4" for k in range(n)]
    if gt_name:
        (folder / gt_name).write_text("\n".join(gt_rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "lasher"
    s = generate_dataset(root, n_train=4, n_test=2, frames=(20, 22), size=(96, 80), seed=3)
    return root, s


# ------------------------------------------------------------------ on generated data
def test_lasher_on_synthetic(syn):
    root, s = syn
    test = get_dataset("lasher_test", root)
    train = get_dataset("lasher_train", root)
    assert len(test) == 2 and len(train) == 4
    assert test.names == [x["name"] for x in s["splits"]["testingset"]]
    assert train.names == [x["name"] for x in s["splits"]["trainingset"]]
    assert any(" " in n for n in test.names)
    assert any(" " in n for n in train.names) and any("`" in n for n in train.names) and any("'" in n for n in train.names)
    for ds, split in ((test, "testingset"), (train, "trainingset")):
        for seq, info in zip(ds, s["splits"][split]):
            assert seq.num_frames == info["frames"] == len(seq.rgb_frames) == len(seq.tir_frames)
            assert seq.rgb_frames[0].name == "v000001.jpg" and seq.tir_frames[-1].name == f"i{info['frames']:06d}.jpg"
            rows = (root / split / seq.name / "init.txt").read_text().split()
            assert seq.ground_truth.shape == (info["frames"], 4) and seq.ground_truth.dtype == np.float64
            assert seq.ground_truth[0].tolist() == [float(v) for v in rows[0].split(",")]
            assert (seq.init_box == seq.ground_truth[0]).all()


def test_read_frame_channels(syn):
    root, _ = syn
    seq = get_dataset("lasher_test", root)[0]
    f = seq.read_frame(3)
    assert f.shape == (80, 96, 6) and f.dtype == np.uint8
    assert (f[..., 3] == f[..., 4]).all() and (f[..., 4] == f[..., 5]).all()
    assert not np.array_equal(f[..., :3], f[..., 3:])
    bgr = cv2.imread(str(seq.rgb_frames[3]))
    assert np.array_equal(f[..., :3], bgr[..., ::-1])
    # the target is warm in TIR: brighter inside its box than the frame on average
    x, y, w, h = seq.ground_truth[3].astype(int)
    assert f[y:y + h, x:x + w, 3].mean() > f[..., 3].mean() + 40
    assert np.array_equal(seq.read_frame(3, parallel=True), f)
    frames = list(seq.frames())
    assert [i for i, _ in frames] == list(range(seq.num_frames))
    assert np.array_equal(frames[3][1], f)
    with pytest.raises(IndexError, match=r"frame index 99 out of range \[0, "):
        seq.read_frame(99)


def test_lasher_missing_visible_txt_and_absence(syn):
    root, s = syn
    train = get_dataset("lasher_train", root)
    no_vis = [seq for seq in train if not (seq.path / "visible.txt").exists()]
    assert len(no_vis) == 1 and "'" in no_vis[0].name
    assert no_vis[0].ground_truth.shape[0] == no_vis[0].num_frames and no_vis[0].gt_rgb is None
    for seq in list(train) + list(get_dataset("lasher_test", root)):
        a = seq.absence
        assert a is not None and a.dtype == bool and a.shape == (seq.num_frames,)
        assert (a == ~seq.valid).all()
        assert (seq.ground_truth[a] == 0).all()
    assert sum(int(seq.absence.sum()) for seq in train) == sum(x["absent_frames"] for x in s["splits"]["trainingset"])


def test_lasher_root_variants(syn):
    root, _ = syn
    a = get_dataset("lasher_test", root / "testingset")  # the split folder itself
    assert a.names == get_dataset("lasher_test", root).names
    b = get_dataset("lasher_train", root / "testingset")  # sibling split
    assert b.names == get_dataset("LasHeR-Train", root).names
    with pytest.raises(ValueError, match="unknown dataset 'otb'"):
        get_dataset("otb", root)


def test_lasher_without_list_file_and_with_crlf_names(tmp_path):
    root = tmp_path / "lasher"
    make_seq(root / "testingset" / "b seq")
    make_seq(root / "testingset" / "a`s seq")
    ds = get_dataset("lasher_test", root)
    assert ds.names == ["a`s seq", "b seq"]
    (root / "testingsetList.txt").write_bytes(b"b seq\r\na`s seq\r\n\r\n")
    ds = get_dataset("lasher_test", root)
    assert ds.names == ["b seq", "a`s seq"]
    assert ds["a`s seq"].num_frames == 3 and ds[-1].name == "a`s seq"
    (root / "testingsetList.txt").write_text("b seq\nghost\n")
    with pytest.raises(DatasetNotFoundError, match=r"testingsetList.txt have no folder.*'ghost'"):
        get_dataset("lasher_test", root)


# ------------------------------------------------------------------ sorting and laziness
def test_numeric_sort(tmp_path):
    d = tmp_path / "visible"
    for n in ["v10.jpg", "v9.jpg", "v100.jpg", "v1.jpg", "Thumbs.db", ".hidden.jpg", "notes.txt"]:
        (d / n).parent.mkdir(exist_ok=True)
        (d / n).write_bytes(b"x")
    assert [p.name for p in list_frames(d)] == ["v1.jpg", "v9.jpg", "v10.jpg", "v100.jpg"]
    names = ["00012i.jpg", "00100i.jpg", "00009i.jpg"]
    assert sorted(names, key=natural_key) == ["00009i.jpg", "00012i.jpg", "00100i.jpg"]
    assert sorted(["1_10v.png", "2_1v.png", "1_9v.png"], key=natural_key) == ["1_9v.png", "1_10v.png", "2_1v.png"]


def test_frames_paired_by_number_not_name_format(tmp_path):
    seq = make_seq(tmp_path / "r" / "s", n=3, rgb_names=["v9.png", "v10.png", "v8.png"],
                   tir_names=["i0009.png", "i0010.png", "i0008.png"])
    s = get_dataset("rgbt210", seq.parent)["s"]
    assert [p.name for p in s.rgb_frames] == ["v8.png", "v9.png", "v10.png"]
    assert [p.name for p in s.tir_frames] == ["i0008.png", "i0009.png", "i0010.png"]
    assert s.read_frame(0)[0, 0].tolist() == [102, 7, 0, 52, 52, 52]


def test_construction_is_lazy_and_listing_cached(tmp_path):
    root = tmp_path / "many"
    for k in range(500):
        (root / f"seq{k}").mkdir(parents=True)  # empty folders: only an error once touched
    t0 = time.perf_counter()
    ds = get_dataset("rgbt210", root)
    assert time.perf_counter() - t0 < 1.0
    assert len(ds) == 500 and ds.names[:3] == ["seq0", "seq1", "seq2"]
    with pytest.raises(DatasetNotFoundError, match="seq7"):
        ds["seq7"].num_frames
    make_seq(root / "seq8")
    s = ds["seq8"]
    assert s.num_frames == 3
    _img(root / "seq8" / "visible" / "v000004.png", 1)
    assert s.num_frames == 3  # listed once
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.num_frames == 3 and s2.read_frame(1).shape == (10, 12, 6)


# ------------------------------------------------------------------ other layouts
def test_rgbt234_per_modality_gt(tmp_path):
    seq = make_seq(tmp_path / "rgbt234" / "afterrain", n=2, gt_rows=["1,2,3,4", "1,2,3,4"])
    (seq / "visible.txt").write_text("1,2,3,4\n5,6,7,8\n")
    (seq / "infrared.txt").write_text("2,2,3,4\n6,6,7,8\n")
    ds = get_dataset("rgbt234", tmp_path / "rgbt234")
    s = ds["afterrain"]
    assert s.gt_rgb.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert s.gt_tir.tolist() == [[2, 2, 3, 4], [6, 6, 7, 8]]
    assert s.ground_truth.tolist() == [[1, 2, 3, 4], [1, 2, 3, 4]]
    (seq / "infrared.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="afterrain.*infrared.txt"):
        get_dataset("rgbt234", tmp_path / "rgbt234")["afterrain"].gt_tir


def test_gtot_layout_corners_to_xywh(tmp_path):
    seq = tmp_path / "gtot" / "BlackCar"
    for k in range(2):
        _img(seq / "v" / f"{k + 1:05d}v.png", 10)
        _img(seq / "i" / f"{k + 1:05d}i.bmp", 20, grey=True)
    (seq / "groundTruth_v.txt").write_text("209 155 309 218\n203 154 298 217\n")
    (seq / "groundTruth_i.txt").write_text("210 155 314 214\n204 155 306 214\n")
    (tmp_path / "gtot" / "SequencesName.txt").write_text("BlackCar\n")
    ds = get_dataset("gtot", tmp_path / "gtot")
    assert ds.names == ["BlackCar"]
    s = ds[0]
    assert s.ground_truth.tolist() == [[209, 155, 100, 63], [203, 154, 95, 63]]
    assert s.gt_tir.tolist() == [[210, 155, 104, 59], [204, 155, 102, 59]]
    assert s.read_frame(1).shape == (10, 12, 6)


# ------------------------------------------------------------------ errors
def test_error_missing_dataset_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "nowhere")):
        get_dataset("rgbt234", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no testingset/ folder in .*empty"):
        get_dataset("lasher_test", tmp_path / "empty")


def test_error_missing_infrared(tmp_path):
    seq = make_seq(tmp_path / "d" / "carturn")
    for p in (seq / "infrared").iterdir():
        p.unlink()
    (seq / "infrared").rmdir()
    with pytest.raises(DatasetNotFoundError, match=r"sequence 'carturn': missing TIR frame folder infrared/"):
        get_dataset("rgbt210", tmp_path / "d")["carturn"].rgb_frames


def test_error_frame_count_mismatch(tmp_path):
    make_seq(tmp_path / "d" / "girl run", n=4, n_tir=3)
    with pytest.raises(DatasetError, match=r"sequence 'girl run': RGB and TIR frame counts differ: 4 in .* vs 3 in"):
        get_dataset("rgbt210", tmp_path / "d")[0].num_frames


def test_error_corrupt_and_missing_frame(tmp_path):
    seq = make_seq(tmp_path / "d" / "bus", n=3, ext=".jpg")
    (seq / "infrared" / "i000002.jpg").write_bytes(b"\xff\xd8garbage")
    s = get_dataset("rgbt210", tmp_path / "d")["bus"]
    assert s.read_frame(0).shape == (10, 12, 6)
    with pytest.raises(ImageReadError, match=r"sequence 'bus', frame 1 \(counting from 0\): cannot decode image file .*i000002.jpg"):
        s.read_frame(1)
    (seq / "visible" / "v000003.jpg").unlink()  # deleted after listing
    with pytest.raises(ImageNotFoundError, match=r"sequence 'bus', frame 2 \(counting from 0\): .*v000003.jpg"):
        s.read_frame(2, parallel=True)


def test_error_rgb_tir_size_mismatch(tmp_path):
    make_seq(tmp_path / "d" / "dog", n=1, tir_size=(12, 11))
    with pytest.raises(DatasetError, match=r"'dog', frame 0: RGB and TIR sizes differ: 12x10 .* vs 12x11"):
        get_dataset("rgbt210", tmp_path / "d")[0].read_frame(0)


def test_error_gt_nan(tmp_path):
    make_seq(tmp_path / "d" / "hat", n=3, gt_rows=["1,2,3,4", "1,2,3,4", "nan,2,3,4"])
    with pytest.raises(DatasetError, match=r"sequence 'hat': bad ground-truth file: .*init.txt, row 3: NaN"):
        get_dataset("rgbt210", tmp_path / "d")[0].ground_truth


def test_error_first_box_not_positive_but_later_ones_allowed(tmp_path):
    make_seq(tmp_path / "d" / "ok", n=3, gt_rows=["1,2,3,4", "0,0,0,0", "5,6,-1,4"])
    s = get_dataset("rgbt210", tmp_path / "d")[0]
    assert s.init_box.tolist() == [1, 2, 3, 4]
    assert s.valid.tolist() == [True, False, False]
    make_seq(tmp_path / "e" / "bad first", n=2, gt_rows=["10,20,0,5", "1,2,3,4"])
    s = get_dataset("rgbt210", tmp_path / "e")[0]
    assert s.ground_truth.shape == (2, 4)  # readable for training/analysis
    with pytest.raises(DatasetError, match=r"sequence 'bad first': first-frame box \[10.0, 20.0, 0.0, 5.0\] has w or h <= 0"):
        s.init_box


def test_error_missing_gt(tmp_path):
    make_seq(tmp_path / "d" / "nogt", gt_name=None)
    with pytest.raises(DatasetNotFoundError, match=r"sequence 'nogt': missing ground-truth file init.txt"):
        get_dataset("rgbt210", tmp_path / "d")[0].ground_truth


def test_dataset_names_resolve_in_one_place():
    from lib.data.datasets import dataset_key
    assert dataset_key("LasHeR_train") == dataset_key("lashertrain") == "lasher_train"
    assert dataset_key("LasHeR-test") == dataset_key("LASHER_TESTINGSET") == "lasher_test"
    assert dataset_key("lasher") == "lasher_test"                              # test.py --dataset_name lasher
    assert dataset_key("LasHeR", lasher_split="train") == "lasher_train"      # a training config's LasHeR
    assert dataset_key(" RGBT234 ") == "rgbt234"
    for bad in ("lasher_val", "vot2020"):
        with pytest.raises(ValueError, match=f"unknown dataset '{bad}'; choose one of lasher_test"):
            dataset_key(bad)


def test_ground_truth_length_mismatch_names_the_file(tmp_path, caplog):
    from lib.data.sampler import _sequence_info
    make_seq(tmp_path / "d" / "short gt", n=4, gt_rows=["1,1,5,4", "2,2,5,4", "3,3,5,4"])
    make_seq(tmp_path / "d" / "fine", n=3)
    ds = get_dataset("rgbt210", tmp_path / "d")
    short, fine = ds["short gt"], ds["fine"]
    assert fine.gt_length_problem() is None
    assert short.gt_length_problem() == (f"{tmp_path / 'd' / 'short gt' / 'init.txt'}: 3 ground-truth rows for "
                                         f"4 frames; only the first 3 are used")
    with caplog.at_level("WARNING", logger="lib.data"):
        info = _sequence_info(short, "rgbt210", use_absence=False)
    assert len(info.gt) == 3 and "3 ground-truth rows for 4 frames" in caplog.text
