"""LasHeR layout::

    lasher/
      trainingset/<seq>/visible/*.jpg  infrared/*.jpg  init.txt  [visible.txt infrared.txt absence.label cover.label]
      testingset/<seq>/...
      trainingsetList.txt  testingsetList.txt

``root`` is the folder holding ``trainingset/`` and ``testingset/``; the split folder itself
(e.g. ``.../testingset``, as the original README told users to set) is accepted too, with the
list file then looked up beside it. Folder and list-file names are matched ignoring case.
GT is ``init.txt`` (``visible.txt`` may be missing: it does not matter). Sequence names may
contain spaces, backticks and apostrophes; list files may have CRLF line endings.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

from .base import DatasetError, DatasetNotFoundError, RGBTDataset, _find_child

# LasHeR's 19 challenge attributes, in the order of its Attributes_order.txt.
LASHER_ATTRIBUTES = ("NO", "PO", "TO", "HO", "MB", "LI", "HI", "AIV", "LR", "DEF",
                     "BC", "SA", "CM", "TC", "FL", "OV", "FM", "SV", "ARC")


class _LasHeRBase(RGBTDataset):
    split_dir = ""
    list_file = ""
    other_split_dir = ""
    gt_files = (("init.txt", "xywh"),)
    rgb_gt_files = (("visible.txt", "xywh"),)
    tir_gt_files = (("infrared.txt", "xywh"),)
    modal_gt_required = False
    label_files = {"absence": "absence.label", "cover": "cover.label"}

    def _split_folder(self) -> Path:
        root = self.root
        found = _find_child(root, [self.split_dir], want_dir=True)
        if found is not None:
            return found
        if root.name.lower() == self.split_dir:
            return root
        if root.name.lower() == self.other_split_dir:  # pointed at the other split's folder
            found = _find_child(root.parent, [self.split_dir], want_dir=True)
            if found is not None:
                return found
        raise DatasetNotFoundError(
            f"{self.name}: no {self.split_dir}/ folder in {root} (set the LasHeR root to the folder holding "
            f"trainingset/, testingset/ and the list files, or to the {self.split_dir} folder itself)"
        )

    def _find_sequences(self) -> Tuple[Path, List[str]]:
        folder = self._split_folder()
        list_path = _find_child(folder.parent, [self.list_file], want_dir=False)
        if list_path is None:
            list_path = _find_child(folder, [self.list_file], want_dir=False)
        subfolders = self._subfolders(folder)
        if list_path is None:
            return folder, subfolders
        present = set(subfolders)
        names, missing = [], []
        text = list_path.read_bytes().decode("utf-8-sig")
        for line in text.splitlines():
            name = line.strip("\r\n")
            if not name.strip():
                continue
            if name not in present and name.strip() in present:
                name = name.strip()
            if name not in present:
                missing.append(name)
            names.append(name)
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DatasetNotFoundError(
                f"{self.name}: {len(missing)} sequence(s) listed in {list_path} have no folder in {folder}: {shown}"
            )
        if not names:
            raise DatasetError(f"{self.name}: list file {list_path} names no sequences")
        return folder, names


class LasHeRTestDataset(_LasHeRBase):
    name = "lasher_test"
    split_dir = "testingset"
    list_file = "testingsetList.txt"
    other_split_dir = "trainingset"


class LasHeRTrainDataset(_LasHeRBase):
    name = "lasher_train"
    split_dir = "trainingset"
    list_file = "trainingsetList.txt"
    other_split_dir = "testingset"


def LasHeRDataset(root, split: str = "test") -> _LasHeRBase:
    """LasHeR with ``split`` in {'test', 'train'}."""
    split = split.lower()
    if split in ("test", "testing", "testingset"):
        return LasHeRTestDataset(root)
    if split in ("train", "training", "trainingset"):
        return LasHeRTrainDataset(root)
    raise ValueError(f"LasHeR split must be 'train' or 'test', got {split!r}")
