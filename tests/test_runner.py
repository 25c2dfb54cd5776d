"""Runner: result files, resume, interruption, per-sequence errors, checkpoints, devices."""
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from lib.test import pool, results, runner as R
from lib.utils import checkpoint_files


# ------------------------------------------------------------------ fakes
class FakeSeq:
    def __init__(self, name, n, init=(10.0, 20.0, 30.0, 40.0), fail_at=None):
        self.name, self.num_frames, self.init_box, self.fail_at = name, n, np.array(init), fail_at

    def read_frame(self, i):
        if i == self.fail_at:
            raise OSError(f"cannot decode image file /data/{self.name}/visible/{i:06d}.jpg")
        return np.full((48, 64, 6), i, np.uint8)


class FakeDataset:
    def __init__(self, seqs):
        self.seqs = {s.name: s for s in seqs}
        self.names = list(self.seqs)

    def __getitem__(self, name):
        return self.seqs[name]


class FakeTracker:
    """Box = init box shifted by frame / 3 (values that need all 17 digits)."""

    def __init__(self, log):
        self.log = log

    def initialize(self, frame, box):
        self.box, self.i = list(box), 0
        self.log.append(("init", int(frame[0, 0, 0])))
        return list(box)

    def track(self, frame):
        self.i += 1
        return [v + self.i / 3 for v in self.box]


def make(names_frames, **kw):
    return FakeDataset([FakeSeq(n, k, **kw) for n, k in names_frames])


def run(ds, out, log=None, **kw):
    log = [] if log is None else log
    tracker = FakeTracker(log)
    return R.run_dataset(lambda: ds, lambda device: tracker, out, progress=False, **kw), log


# ------------------------------------------------------------------ result files
def test_results_written_with_full_precision(tmp_path):
    ds = make([("a", 5), ("b b", 3)])
    summary, log = run(ds, tmp_path)
    assert summary.ok and sorted(summary.done) == ["a", "b b"] and summary.frames == 8
    boxes = results.read_result(tmp_path / "a.txt")
    assert boxes.shape == (5, 4)
    np.testing.assert_array_equal(boxes[0], [10, 20, 30, 40])                 # frame 0 = init box
    expected = [[v + i / 3 for v in (10.0, 20.0, 30.0, 40.0)] for i in range(1, 5)]
    assert boxes[1:].tolist() == expected                                      # bit-exact round trip
    first = (tmp_path / "a.txt").read_text().splitlines()[1]
    assert first == "10.333333333333334,20.333333333333332,30.333333333333332,40.333333333333336"
    times = (tmp_path / "a_time.txt").read_text().split()
    assert len(times) == 5 and all(float(t) >= 0 for t in times)
    assert (tmp_path / "b b.txt").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]      # no temp files left


def test_resume_skips_complete_and_redoes_broken(tmp_path):
    ds = make([("s0", 4), ("s1", 4), ("s2", 4), ("s3", 4), ("s4", 4)])
    run(ds, tmp_path)
    done_text = (tmp_path / "s0.txt").read_text()
    mtime = (tmp_path / "s0.txt").stat().st_mtime_ns
    # s1 half written, s2 garbage, s3 lost its time file, s4 has a NaN row
    lines = (tmp_path / "s1.txt").read_text().splitlines()
    (tmp_path / "s1.txt").write_text("\n".join(lines[:2]) + "\n")
    (tmp_path / "s2.txt").write_text("not,a,box\n")
    (tmp_path / "s3_time.txt").unlink()
    (tmp_path / "s4.txt").write_text("1,2,3,4\n1,2,3,4\n1,2,3,nan\n1,2,3,4\n")
    summary, log = run(ds, tmp_path)
    assert summary.skipped == ["s0"]
    assert sorted(summary.done) == ["s1", "s2", "s3", "s4"]
    assert [e for e in log if e[0] == "init"] == [("init", 0)] * 4              # s0 was not tracked
    assert (tmp_path / "s0.txt").read_text() == done_text
    assert (tmp_path / "s0.txt").stat().st_mtime_ns == mtime                     # not rewritten
    for s in ("s1", "s2", "s3", "s4"):
        assert results.is_complete(tmp_path, s, 4)
    # a third run has nothing to do
    summary, log = run(ds, tmp_path)
    assert summary.done == [] and len(summary.skipped) == 5 and log == []


def test_frame_count_change_means_redo(tmp_path):
    run(make([("s", 4)]), tmp_path)
    summary, _ = run(make([("s", 6)]), tmp_path)          # the sequence got longer: redo
    assert summary.done == ["s"] and len(results.read_result(tmp_path / "s.txt")) == 6


def test_interrupted_run_keeps_finished_sequences(tmp_path):
    ds = make([("s0", 3), ("s1", 3), ("s2", 3)])
    log = []

    class Interrupting(FakeTracker):
        def track(self, frame):
            if len([e for e in log if e[0] == "init"]) == 2:   # in the middle of the 2nd sequence
                raise KeyboardInterrupt
            return super().track(frame)

    tracker = Interrupting(log)
    summary = R.run_dataset(lambda: ds, lambda d: tracker, tmp_path, progress=False)
    assert summary.interrupted and not summary.ok and summary.done == ["s0"]
    assert results.is_complete(tmp_path, "s0", 3)
    assert not (tmp_path / "s1.txt").exists()                 # the one in flight is simply lost
    summary, log2 = run(ds, tmp_path)
    assert summary.skipped == ["s0"] and sorted(summary.done) == ["s1", "s2"]


def test_sequence_subset_and_unknown_name(tmp_path):
    ds = make([("a", 2), ("b", 2), ("c", 2)])
    summary, _ = run(ds, tmp_path, sequences=["b"])
    assert summary.done == ["b"] and summary.total == 1 and not (tmp_path / "a.txt").exists()
    with pytest.raises(R.RunError, match="no sequence named 'zz'"):
        run(ds, tmp_path, sequences=["zz"])


def test_failures_are_reported_and_others_continue(tmp_path):
    ds = FakeDataset([FakeSeq("good", 3), FakeSeq("broken", 4, fail_at=2), FakeSeq("badinit", 3, init=(1, 2, 0, 5))])
    summary, _ = run(ds, tmp_path)
    assert summary.done == ["good"] and not summary.ok
    msgs = {f.name: str(f) for f in summary.failed}
    assert "sequence 'broken'" in msgs["broken"] and "/data/broken/visible/000002.jpg" in msgs["broken"]
    assert "w > 0 and h > 0" in msgs["badinit"] and "sequence 'badinit'" in msgs["badinit"]
    assert not (tmp_path / "broken.txt").exists() and not (tmp_path / "badinit.txt").exists()
    # debug mode raises the first error instead
    with pytest.raises(OSError, match="cannot decode"):
        run(FakeDataset([FakeSeq("broken", 4, fail_at=2)]), tmp_path / "d", debug=True)


@pytest.fixture(scope="module")
def broken_lasher(tmp_path_factory):
    """A synthetic LasHeR test split with one sequence per error the dataset module raises."""
    from lib.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("lasher")
    generate_dataset(root / "lasher", n_train=0, n_test=6, frames=4, size=(64, 64), seed=3)
    test_dir = root / "lasher" / "testingset"
    names = sorted(p.name for p in test_dir.iterdir())
    s = dict(zip(["novis", "count", "corrupt", "gt", "firstbox", "ok"], names))
    shutil.rmtree(test_dir / s["novis"] / "visible")
    tir = sorted((test_dir / s["count"] / "infrared").iterdir())
    tir[-1].unlink()
    vis = sorted((test_dir / s["corrupt"] / "visible").iterdir())
    vis[2].write_bytes(b"\xff\xd8 this is not a jpeg")
    (test_dir / s["gt"] / "init.txt").write_text("1,2,3,4\n1,2,x,4\n1,2,3,4\n1,2,3,4\n")
    (test_dir / s["firstbox"] / "init.txt").write_text("5,5,0,4\n5,5,4,4\n5,5,4,4\n5,5,4,4\n")
    return root / "lasher", s, test_dir


def test_dataset_errors_are_surfaced_by_sequence(tmp_path, broken_lasher):
    root, s, test_dir = broken_lasher
    from lib.data.datasets import get_dataset

    ds = get_dataset("lasher_test", root)
    summary, _ = run(ds, tmp_path)
    assert summary.done == [s["ok"]]
    msgs = {f.name: str(f) for f in summary.failed}
    assert set(msgs) == {s[k] for k in ("novis", "count", "corrupt", "gt", "firstbox")}
    for key, fragment in [("novis", "visible"), ("count", "frame counts differ"), ("corrupt", "cannot decode"),
                          ("gt", "init.txt"), ("firstbox", "w or h <= 0")]:
        msg = msgs[s[key]]
        assert repr(s[key]) in msg and fragment in msg, (key, msg)
    assert str(test_dir / s["corrupt"] / "visible") in msgs[s["corrupt"]]       # names the file
    for key in ("novis", "count", "corrupt", "gt", "firstbox"):
        assert not (tmp_path / f"{s[key]}.txt").exists()


# ------------------------------------------------------------------ checkpoints and run info
def test_checkpoint_lookup_order_and_error(tmp_path):
    paths = checkpoint_files.default_checkpoint_paths(tmp_path, "cfgA", 15)
    assert paths == [tmp_path / "cfgA/checkpoints/train/tbsi_track/cfgA/TBSITrack_ep0015.pth.tar",
                     tmp_path / "checkpoints/train/tbsi_track/cfgA/TBSITrack_ep0015.pth.tar"]
    with pytest.raises(FileNotFoundError) as e:
        checkpoint_files.find_checkpoint(tmp_path, "cfgA", 15)
    assert str(paths[0]) in str(e.value) and str(paths[1]) in str(e.value)
    paths[1].parent.mkdir(parents=True)
    paths[1].write_bytes(b"x")
    assert checkpoint_files.find_checkpoint(tmp_path, "cfgA", 15) == paths[1]
    paths[0].parent.mkdir(parents=True)
    paths[0].write_bytes(b"y")
    assert checkpoint_files.find_checkpoint(tmp_path, "cfgA", 15) == paths[0]              # the seed's layout first
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        checkpoint_files.find_checkpoint(tmp_path, "cfgA", 15, checkpoint=tmp_path / "nope.pth")


def test_results_dir_layout(tmp_path):
    assert results.results_dir(tmp_path, "tbsi_track", "c", "lasher_test") == tmp_path / "tbsi_track/c/lasher_test"
    assert results.results_dir(tmp_path, "tbsi_track", "c", "gtot", run_id=7) == tmp_path / "tbsi_track/c_007/gtot"


def test_run_info_refuses_mixing_checkpoints(tmp_path):
    a, b = tmp_path / "a.pth.tar", tmp_path / "b.pth.tar"
    a.write_bytes(b"weights a")
    b.write_bytes(b"weights b")
    out = tmp_path / "res"
    results.check_run_info(out, a, "cfg")
    results.check_run_info(out, b, "cfg")                   # no results yet (the first run failed at once): replaced
    assert "b.pth.tar" in (out / "run_info.json").read_text()
    results.check_run_info(out, a, "cfg")
    (out / "seq1.txt").write_text("1,2,3,4\n")
    results.check_run_info(out, a, "cfg")                   # same weights: fine
    with pytest.raises(R.RunError, match="another checkpoint.*--epoch"):
        results.check_run_info(out, b, "cfg")
    with pytest.raises(R.RunError, match=r"another --save_dir\.$"):
        results.check_run_info(out, b, "cfg", {"backend": "onnxruntime"})


def test_run_info_refuses_mixing_int8_calibrations(tmp_path):
    weights, first, second = tmp_path / "w.pth.tar", tmp_path / "w.int8.pt", tmp_path / "other.int8.pt"
    weights.write_bytes(b"weights")
    first.write_bytes(b"ranges 1")
    second.write_bytes(b"ranges 2")
    out = tmp_path / "res_int8"
    results.check_run_info(out, weights, "cfg", {"precision": "int8"}, calibration=first)
    (out / "seq1.txt").write_text("1,2,3,4\n")
    results.check_run_info(out, weights, "cfg", {"precision": "int8"}, calibration=first)   # the same: fine
    with pytest.raises(R.RunError, match=r"another calibration .*w\.int8\.pt.*other\.int8\.pt.*--out"):
        results.check_run_info(out, weights, "cfg", {"precision": "int8"}, calibration=second)


# ------------------------------------------------------------------ devices and workers
def test_select_devices(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.warns(UserWarning, match="no CUDA GPU"):
        assert pool.select_devices(1) == ["cpu"]
    with pytest.warns(UserWarning, match="--num_gpus 0"):
        assert pool.select_devices(0) == ["cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pool.select_devices(2) == ["cuda:0", "cuda:1"]
        assert pool.select_devices(None) == ["cuda:0", "cuda:1", "cuda:2"]
    with pytest.warns(UserWarning, match="only 3"):
        assert len(pool.select_devices(5)) == 3


def test_workers_round_robin_and_threads(monkeypatch):
    assert pool.worker_devices(5, ["cuda:0", "cuda:1"]) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert pool.worker_devices(3, ["cpu"]) == ["cpu"] * 3
    monkeypatch.setattr(pool, "available_cpus", lambda: 2)
    assert pool.torch_threads_per_worker(6) == 1
    assert pool.torch_threads_per_worker(1) == 2
    monkeypatch.setattr(pool, "available_cpus", lambda: 16)
    assert pool.torch_threads_per_worker(6) == 2


def test_worker_start_failure_is_reported_per_sequence():
    import torch

    threads = torch.get_num_threads()

    def bad_factory(device):
        raise ValueError("checkpoint /x.pth.tar does not match the model")

    try:
        state = pool._start_worker(bad_factory, lambda: make([("a", 2)]), "cpu", threads)
    finally:
        torch.set_num_threads(threads)
    res = pool._worker_sequence(state, "a", Path("/unused"), R.track_one)
    assert "could not start" in res["error"] and "/x.pth.tar" in res["error"]


def test_cpu_workers_capped_at_cpu_count(tmp_path, monkeypatch, capsys):
    # 3 workers requested on a 1-CPU machine: runs in this process (lambdas need no pickling)
    monkeypatch.setattr(R, "available_cpus", lambda: 1)
    summary, _ = run(make([("a", 2), ("b", 2), ("c", 2)]), tmp_path, threads=3, devices=["cpu"])
    assert sorted(summary.done) == ["a", "b", "c"]
    assert "using 1" in capsys.readouterr().err


class TimedFakeTracker(FakeTracker):
    """FakeTracker that reports 0.25 s of network time per tracked frame."""

    network_seconds = 0.0

    def track(self, frame):
        self.network_seconds += 0.25
        return super().track(frame)


def test_summary_adds_up_the_per_frame_and_network_times(tmp_path):
    ds = make([("a", 4), ("b", 6)])
    summary = R.run_dataset(lambda: ds, lambda device: TimedFakeTracker([]), tmp_path, progress=False)
    assert summary.ok and summary.frames == 10
    assert summary.network_seconds == pytest.approx(0.25 * (3 + 5))      # frame 0 of each sequence: no network
    written = sum(float(np.loadtxt(tmp_path / f"{name}_time.txt").sum()) for name in ("a", "b"))
    assert summary.track_seconds == pytest.approx(written, rel=1e-6, abs=1e-9)
