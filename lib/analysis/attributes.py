"""Per-sequence challenge-attribute flags (LasHeR: AttriSeqsTxt/<seq>.txt; RGBT234/210: attr_txt/<ATTR>.txt)."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.analysis.boxfile import AnalysisError
from lib.analysis.groundtruth import read_names
from lib.data.datasets.lasher import LASHER_ATTRIBUTES
RGBT_ATTRIBUTES = ("BC", "CM", "DEF", "FM", "HO", "LI", "LR", "MB", "NO", "TC", "PO", "SC")


class AttributesUnavailable(AnalysisError):
    """No attribute flags cover the benchmark's sequences."""


@dataclass
class AttributeTable:
    names: tuple            # attribute abbreviations
    flags: np.ndarray       # (num sequences, num attributes) bool, rows in benchmark order
    source: Path


def load_attributes(benchmark):
    """Attribute flags of every sequence of ``benchmark`` from the first folder that has them all."""
    for folder in benchmark.attribute_dirs:
        for reader in (_read_lasher_style, _read_rgbt_style):
            table = reader(Path(folder), benchmark.names)
            if table is not None:
                return table
    looked = ", ".join(str(d) for d in benchmark.attribute_dirs) or "nowhere"
    raise AttributesUnavailable(f"no attribute flags for the {benchmark.dataset} sequences "
                                f"(looked for AttriSeqsTxt/ and attr_txt/ in: {looked})")


def _read_lasher_style(folder, seqs):
    flag_dir = folder / "AttriSeqsTxt"
    if not all((flag_dir / f"{seq}.txt").is_file() for seq in seqs):
        return None
    order_file = folder / "Attributes_order.txt"
    names = _split_values(order_file) if order_file.is_file() else LASHER_ATTRIBUTES
    flags = np.array([_flags(flag_dir / f"{seq}.txt", len(names)) for seq in seqs], dtype=bool)
    return AttributeTable(tuple(names), flags.reshape(len(seqs), len(names)), flag_dir)


def _read_rgbt_style(folder, seqs):
    attr_dir = folder / "attr_txt"
    list_file = attr_dir / "SequencesName.txt"
    if not list_file.is_file() or not all((attr_dir / f"{a}.txt").is_file() for a in RGBT_ATTRIBUTES):
        return None
    listed = read_names(list_file)
    columns = []
    for name in RGBT_ATTRIBUTES:
        by_seq = dict(zip(listed, _flags(attr_dir / f"{name}.txt")))
        if not all(seq in by_seq for seq in seqs):
            return None
        columns.append([by_seq[seq] for seq in seqs])
    return AttributeTable(RGBT_ATTRIBUTES, np.array(columns, dtype=bool).T.reshape(len(seqs), -1), attr_dir)


def _split_values(path):
    return path.read_text(encoding="utf-8").replace(",", " ").split()


def _flags(path, expected=None):
    values = _split_values(path)
    if values and set(values) <= {"0", "1", "0.0", "1.0"} and expected in (None, len(values)):
        return [float(v) == 1.0 for v in values]
    what = f"{len(values)} values, expected {expected} 0/1 flags" if expected else "expected 0/1 flags"
    raise AnalysisError(f"{path}: bad attribute file ({what})")
