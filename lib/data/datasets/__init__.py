"""RGB-T test/training datasets.

    ds = get_dataset("lasher_test", root)   # lasher_test, lasher_train, rgbt234, rgbt210, gtot
    len(ds); ds.names; seq = ds["name"] or ds[0]
    seq.rgb_frames, seq.tir_frames, seq.ground_truth, seq.init_box, seq.num_frames
    seq.read_frame(i) -> H x W x 6 uint8 [R, G, B | T, T, T]
"""
from __future__ import annotations

import os
from typing import Union

from .base import (
    DatasetError,
    DatasetNotFoundError,
    RGBTDataset,
    Sequence,
    list_frames,
    natural_key,
)
from .gtot import GTOTDataset
from .lasher import LasHeRDataset, LasHeRTestDataset, LasHeRTrainDataset
from .rgbt210 import RGBT210Dataset
from .rgbt234 import RGBT234Dataset

DATASETS = {
    "lasher_test": LasHeRTestDataset,
    "lasher_train": LasHeRTrainDataset,
    "rgbt234": RGBT234Dataset,
    "rgbt210": RGBT210Dataset,
    "gtot": GTOTDataset,
}


def dataset_key(name: str, lasher_split: str = "test") -> str:
    """The key in DATASETS for a user's or a config's dataset name: case-insensitive, ``-`` same
    as ``_``; LasHeR names pick the split they mention (``LasHeR_train``, ``lasher-test``,
    ``LasHeR_testingset``) and ``lasher_split`` when they mention none. ValueError if unknown."""
    key = str(name).strip().lower().replace("-", "_")
    if key.startswith("lasher"):
        rest = key[len("lasher"):]
        if "test" in rest:
            key = "lasher_test"
        elif "train" in rest:
            key = "lasher_train"
        elif not rest.strip("_"):
            key = f"lasher_{lasher_split}"
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return key


def get_dataset(name: str, root: Union[str, os.PathLike]) -> RGBTDataset:
    """Dataset ``name`` (see dataset_key) rooted at ``root``."""
    return DATASETS[dataset_key(name)](root)


__all__ = [
    "get_dataset",
    "dataset_key",
    "DATASETS",
    "DatasetError",
    "DatasetNotFoundError",
    "RGBTDataset",
    "Sequence",
    "list_frames",
    "natural_key",
    "LasHeRDataset",
    "LasHeRTestDataset",
    "LasHeRTrainDataset",
    "RGBT234Dataset",
    "RGBT210Dataset",
    "GTOTDataset",
]
