import hashlib

import numpy as np
import pytest

from lib.data.synthetic import generate_dataset, render_sequence, sequence_names


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "synthetic.json":
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _iou(a, b):
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def test_layout_and_files(tmp_path):
    out = tmp_path / "syn"
    s = generate_dataset(out, n_train=4, n_test=1, frames=5, size=(96, 72), seed=1)
    assert not s["reused"]
    assert sorted(p.name for p in out.iterdir()) == [
        "AttriSeqsTxt", "Attributes_order.txt", "synthetic.json", "testingset", "testingsetList.txt", "trainingset", "trainingsetList.txt"]
    train = (out / "trainingsetList.txt").read_bytes().decode().split("\r\n")[:-1]
    assert train == sequence_names(1, "train", 4) and len(set(train)) == 4
    assert sorted(p.name for p in (out / "trainingset").iterdir()) == sorted(train)
    for name in train:
        seq = out / "trainingset" / name
        assert sorted(p.name for p in (seq / "visible").iterdir()) == [f"v{k:06d}.jpg" for k in range(1, 6)]
        assert sorted(p.name for p in (seq / "infrared").iterdir()) == [f"i{k:06d}.jpg" for k in range(1, 6)]
        rows = (seq / "init.txt").read_bytes().split(b"\r\n")
        assert len(rows) == 6 and rows[-1] == b""
        assert (seq / "infrared.txt").read_bytes() == (seq / "init.txt").read_bytes()
        assert (seq / "absence.label").read_bytes() == b"0\r\n" * 5
    # the traps: a space in each split, a backtick, an apostrophe without visible.txt
    test_name = (out / "testingsetList.txt").read_text().strip()
    assert " " in test_name and " " in train[1] and "`" in train[2] and "'" in train[3]
    assert not (out / "trainingset" / train[3] / "visible.txt").exists()
    assert (out / "trainingset" / train[0] / "visible.txt").exists()
    plain = sequence_names(1, "train", 4, traps=False)
    assert all(c.isalnum() for n in plain for c in n)


def test_deterministic_and_reuse(tmp_path):
    kw = dict(n_train=2, n_test=1, frames=(4, 6), size=(80, 64))
    a = generate_dataset(tmp_path / "a", seed=7, **kw)
    b = generate_dataset(tmp_path / "b", seed=7, **kw)
    generate_dataset(tmp_path / "c", seed=8, **kw)
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b") != _tree_digest(tmp_path / "c")
    assert a["splits"] == b["splits"]
    again = generate_dataset(tmp_path / "a", seed=7, **kw)
    assert again["reused"] and again["splits"] == a["splits"]
    with pytest.raises(FileExistsError, match="not empty"):
        generate_dataset(tmp_path / "a", seed=9, **kw)
    d = generate_dataset(tmp_path / "a", seed=8, overwrite=True, **kw)
    assert not d["reused"] and _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "c")
    # nothing half-written is left beside the outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def test_sequence_k_does_not_depend_on_count(tmp_path):
    kw = dict(n_test=0, frames=4, size=(80, 64), seed=2, traps=False)
    generate_dataset(tmp_path / "a", n_train=1, **kw)
    generate_dataset(tmp_path / "b", n_train=3, **kw)
    name = (tmp_path / "a" / "trainingsetList.txt").read_text().split()[0]
    assert _tree_digest(tmp_path / "a" / "trainingset" / name) == _tree_digest(tmp_path / "b" / "trainingset" / name)


def test_content_is_trackable_and_moves():
    sr_static, absent_seen = [], 0
    for k in range(4):
        rng = np.random.default_rng([0, 1, k])
        s = render_sequence(rng, 40, (160, 128))
        N = len(s.gt)
        assert s.rgb.shape == (N, 128, 160, 3) and s.tir.shape == (N, 128, 160)
        vis = ~s.absent
        assert not s.absent[0] and s.occluded[0] == 0
        assert (s.gt[s.absent] == 0).all() and (s.gt[vis, 2:] > 0).all()
        g = s.gt[vis]
        assert (g[:, 0] >= 0).all() and (g[:, 1] >= 0).all()
        assert (g[:, 0] + g[:, 2] <= 160).all() and (g[:, 1] + g[:, 3] <= 128).all()
        # warm target on a cool background in TIR
        for t in np.flatnonzero(vis & (s.occluded == 0))[::5]:
            x, y, w, h = s.gt[t]
            inner = s.tir[t, y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4]
            assert inner.mean() > s.tir[t].mean() + 60
        # smooth motion (bounded step) but far from static
        c = g[:, :2] + g[:, 2:] / 2
        steps = np.linalg.norm(np.diff(c, axis=0), axis=1)
        consecutive = np.diff(np.flatnonzero(vis)) == 1
        assert steps[consecutive].max() < 0.5 * np.sqrt(g[:, 2] * g[:, 3]).min() + 6
        iou = _iou(np.repeat(g[:1].astype(float), len(g), 0), g.astype(float))
        sr_static.append(np.mean([(iou > th).mean() for th in np.linspace(0, 1, 21)]))
        assert s.occluded.max() > 0.1  # the occluder passes over the target
        absent_seen += int(s.absent.sum())
    assert np.mean(sr_static) < 0.3
    assert absent_seen > 0


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="frames"):
        generate_dataset(tmp_path / "x", frames=1)
    with pytest.raises(ValueError, match="at least one sequence"):
        generate_dataset(tmp_path / "x", n_train=0, n_test=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        generate_dataset(tmp_path / "file", n_train=1, n_test=0, frames=2, size=(64, 64))


def test_cli(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tracking" / "make_synthetic_dataset.py"
    spec = importlib.util.spec_from_file_location("make_synthetic_dataset", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "cli"
    assert mod.main(["--out", str(out), "--train", "1", "--test", "1", "--frames", "3", "--size", "64x64",
                     "--seed", "5", "--no-traps"]) == 0
    assert "Wrote 2 sequences (6 frames)" in capsys.readouterr().out
    assert mod.main(["--out", str(out), "--train", "1", "--test", "1", "--frames", "3", "--size", "64x64",
                     "--seed", "6", "--no-traps", "-q"]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.main(["--out", str(out), "--size", "64by64"])


def test_attribute_flags_follow_the_rendered_events(tmp_path):
    from lib.data.synthetic import LASHER_ATTRIBUTES
    generate_dataset(tmp_path / "d", n_train=0, n_test=6, frames=(24, 30), size=(96, 80), seed=5)
    order = (tmp_path / "d" / "Attributes_order.txt").read_text().replace(",", " ").split()
    assert tuple(order) == LASHER_ATTRIBUTES
    names = (tmp_path / "d" / "testingsetList.txt").read_text().split("\r\n")[:-1]
    for name in names:
        flags = dict(zip(order, map(int, (tmp_path / "d" / "AttriSeqsTxt" / f"{name}.txt").read_text().split(","))))
        seq_dir = tmp_path / "d" / "testingset" / name
        absent = [int(v) for v in (seq_dir / "absence.label").read_text().split()]
        gt = np.loadtxt(seq_dir / "init.txt", delimiter=",", ndmin=2)
        areas = gt[:, 2] * gt[:, 3]
        assert flags["OV"] == int(any(absent))
        assert flags["SV"] == int(areas[areas > 0].max() > 1.5 * areas[areas > 0].min())
        assert not (flags["NO"] and (flags["PO"] or flags["HO"] or flags["OV"]))
        assert flags["TO"] == flags["MB"] == 0
