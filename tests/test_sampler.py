"""The causal training sampler (docs/training.md#sampler): intervals, gap growth, sequence filter,
which frames count as visible, dataset ratios, absence labels, unreadable frames, seeding."""
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.data.sampler import TrackingSampler


class FakeSeq:
    """In-memory sequence: frame i is a 6-channel image filled with i (so reads are checkable)."""

    def __init__(self, name, n, visible=None, absence=None, bad=()):
        self.name = name
        gt = np.tile([10.0, 10.0, 20.0, 20.0], (n, 1))
        if visible is not None:
            gt[~np.asarray(visible, bool), 2] = 0           # w = 0: target absent in the GT
        self.ground_truth = gt
        self.num_frames = n
        self.absence = None if absence is None else np.asarray(absence, bool)
        self.bad = set(bad)
        self.rgb_frames = [Path(f"/data/{name}/visible/v{i:06d}.jpg") for i in range(n)]
        self.tir_frames = [Path(f"/data/{name}/infrared/i{i:06d}.jpg") for i in range(n)]
        self.reads = []

    def read_frame(self, i):
        self.reads.append(i)
        if i in self.bad:
            raise OSError(f"cannot decode image file {self.rgb_frames[i]}: damaged")
        return np.full((48, 64, 6), i % 256, np.uint8)


class FakeDataset:
    def __init__(self, name, seqs):
        self.name = name
        self._seqs = {s.name: s for s in seqs}
        self.names = list(self._seqs)

    def __getitem__(self, key):
        return self._seqs[key]


def record(z, zbox, x, xbox, rng):
    """Processing stub: always valid; returns the frame ids it was given (frames hold their id)."""
    return {"valid": True, "t": int(z[0, 0, 0]), "x": int(x[0, 0, 0])}


def make(seqs, max_gap=10, ratios=None, n=200, **kw):
    ds = seqs if isinstance(seqs, list) and isinstance(seqs[0], FakeDataset) else [FakeDataset("d0", seqs)]
    return TrackingSampler(ds, ratios or [1] * len(ds), record, samples_per_epoch=n, max_gap=max_gap, **kw)


def test_intervals_causal_within_max_gap():
    s = make([FakeSeq("a", 100)], max_gap=10, n=3000)
    pairs = [(d["t"], d["x"]) for d in (s[i] for i in range(3000))]
    t = np.array([p[0] for p in pairs])
    x = np.array([p[1] for p in pairs])
    assert (t >= 0).all() and (t <= 98).all()            # template id < len - 1
    assert (x > t).all()                                  # causal: search after template
    assert (x - t <= 9).all()                             # search in (t, t + max_gap): exclusive
    assert set(np.unique(x - t)) == set(range(1, 10))     # every gap 1 .. 9 occurs
    assert x.max() == 99 and t.max() == 98


def test_search_range_capped_at_sequence_end():
    s = make([FakeSeq("a", 25)], max_gap=200, n=500)
    for i in range(500):
        d = s[i]
        assert 0 <= d["t"] < d["x"] <= 24


def test_gap_grows_by_five_until_a_visible_frame():
    visible = np.zeros(31, bool)
    visible[[0, 30]] = True
    s = make([FakeSeq("a", 40)], max_gap=10)
    # only template id 0 is possible (ids < len - 1 = 30); frame 30 needs 0 + 10 + gap > 30 -> gap 25
    t, x, gap = s.sample_frame_ids(visible, np.random.default_rng(0))
    assert (t, x, gap) == (0, 30, 25)


def test_invisible_frames_never_drawn():
    vis = np.ones(60, bool)
    vis[10:50] = False
    s = make([FakeSeq("a", 60, visible=vis)], max_gap=10, n=400, positive_boxes_only=True)
    for i in range(400):
        d = s[i]
        assert vis[d["t"]] and vis[d["x"]]


def test_sequence_filter_length_and_visible_count():
    four = np.zeros(30, bool)
    four[:4] = True
    five = np.zeros(30, bool)
    five[:5] = True
    s = make([FakeSeq("short", 19), FakeSeq("four_visible", 30, visible=four), FakeSeq("ok", 30, visible=five),
              FakeSeq("len20", 20)], positive_boxes_only=True)
    assert sorted(si.seq.name for si in s.sequences[0]) == ["len20", "ok"]
    with pytest.raises(ValueError, match="no sequence"):
        make([FakeSeq("short", 19)])
    # the original counts every frame as visible: only the length filter applies
    s = make([FakeSeq("short", 19), FakeSeq("four_visible", 30, visible=four), FakeSeq("len20", 20)])
    assert sorted(si.seq.name for si in s.sequences[0]) == ["four_visible", "len20"]


def reject_zero_size(z, zbox, x, xbox, rng):
    """Processing stub with the real processing's rule: a pair with a zero-size box is invalid."""
    valid = all(box[2] * box[3] > 0 for box in (zbox, xbox))
    return {"valid": valid, "t": int(z[0, 0, 0]), "x": int(x[0, 0, 0])}


def pair_valid_probability(visible, max_gap):
    """P(template and search frame both have a positive box) when every frame may be drawn."""
    n, total = len(visible), 0.0
    for t in range(n - 1):
        search = visible[t + 1:min(t + max_gap, n)]
        total += visible[t] * search.mean()
    return total / (n - 1)


@pytest.mark.parametrize("positive_boxes_only", [False, True])
def test_zero_size_frames_are_drawn_and_rejected_as_in_the_original(positive_boxes_only):
    vis = np.ones(50, bool)
    vis[5:30] = False                                     # w = 0 in the GT on half the frames
    seqs = [FakeSeq("absent_half", 50, visible=vis), FakeSeq("always", 50)]
    s = TrackingSampler([FakeDataset("d0", seqs)], [1], reject_zero_size, samples_per_epoch=4000, max_gap=10,
                        positive_boxes_only=positive_boxes_only)
    draws = [s[i] for i in range(4000)]
    share = np.mean([d["sequence"] == "absent_half" for d in draws])
    if positive_boxes_only:
        assert abs(share - 0.5) < 0.03                    # the fix: only usable frames, equal shares
        return
    # the original: a rejected pair restarts from a new sequence, so that sequence gets fewer samples
    p = pair_valid_probability(vis, 10)
    expected = p / (p + 1)
    assert expected < 0.4 and abs(share - expected) < 3 * np.sqrt(expected * (1 - expected) / 4000) + 0.005
    assert all(vis[d["t"]] and vis[d["x"]] for d in draws if d["sequence"] == "absent_half")


def test_dataset_ratio():
    a = FakeDataset("A", [FakeSeq("a", 30)])
    b = FakeDataset("B", [FakeSeq("b", 30)])
    s = TrackingSampler([a, b], [3, 1], lambda *args: {"valid": True}, samples_per_epoch=800, max_gap=10)
    names = [s[i]["dataset"] for i in range(800)]
    frac = names.count("A") / len(names)
    assert 0.69 < frac < 0.81
    s0 = TrackingSampler([a, b], [1, 0], lambda *args: {"valid": True}, samples_per_epoch=50, max_gap=10)
    assert {s0[i]["dataset"] for i in range(50)} == {"A"}
    with pytest.raises(ValueError, match="DATASETS_RATIO"):
        TrackingSampler([a, b], [1], record, samples_per_epoch=1)


def test_absence_labels_only_with_the_switch():
    absent = np.zeros(40, bool)
    absent[5:35] = True
    seq = FakeSeq("a", 40, absence=absent)
    s_orig = make([seq], max_gap=50, n=300)
    hits = [s_orig[i] for i in range(300)]
    assert any(absent[d["t"]] or absent[d["x"]] for d in hits)      # original: ignored
    s_fix = make([FakeSeq("a", 40, absence=absent)], max_gap=50, n=300, use_absence_labels=True)
    for i in range(300):
        d = s_fix[i]
        assert not absent[d["t"]] and not absent[d["x"]]


def test_invalid_processing_resamples():
    calls = []

    def proc(z, zb, x, xb, rng):
        calls.append(1)
        return {"valid": len(calls) % 3 == 0, "reason": "test"}

    s = TrackingSampler([FakeDataset("d", [FakeSeq("a", 30)])], [1], proc, samples_per_epoch=4, max_gap=10)
    s[0]
    assert len(calls) == 3


def test_unreadable_frame_logged_once_and_skipped(caplog):
    seq = FakeSeq("broken seq", 30, bad={3, 4})
    s = make([seq], max_gap=5, n=400)
    with caplog.at_level(logging.WARNING, logger="lib.data.sampler"):
        out = [s[i] for i in range(400)]
    assert all(d["t"] not in (3, 4) and d["x"] not in (3, 4) for d in out)
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 2                                  # once per bad frame
    assert any("v000003.jpg" in m and "broken seq" in m for m in msgs)
    assert seq.reads.count(3) == 1 and seq.reads.count(4) == 1


def test_seeding_per_sample_epoch_rank():
    seq = FakeSeq("a", 200)
    s = make([seq], max_gap=100, n=10, seed=5)
    first = [(s[i]["t"], s[i]["x"]) for i in range(10)]
    assert first == [(s[i]["t"], s[i]["x"]) for i in range(10)]           # index -> same sample
    assert [(s[i]["t"], s[i]["x"]) for i in reversed(range(10))][::-1] == first  # order-free
    s.set_epoch(1)
    assert [(s[i]["t"], s[i]["x"]) for i in range(10)] != first
    r1 = make([seq], max_gap=100, n=10, seed=5, rank=1)
    assert [(r1[i]["t"], r1[i]["x"]) for i in range(10)] != first


def test_same_samples_with_and_without_workers():
    s = make([FakeSeq("a", 60)], max_gap=20, n=16, seed=3)

    def ids(workers):
        loader = torch.utils.data.DataLoader(s, batch_size=4, num_workers=workers)
        return [(b["t"].tolist(), b["x"].tolist()) for b in loader]

    assert ids(0) == ids(2)
