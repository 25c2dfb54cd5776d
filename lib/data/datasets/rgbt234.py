"""RGBT234 layout: ``<root>/<seq>/visible/*.jpg``, ``infrared/*.jpg``, ``init.txt`` (the GT the
tracker initialises from), ``visible.txt`` and ``infrared.txt`` (per-modality GT, they differ;
both required: results are scored against both, MPR/MSR)."""
from .base import RGBTDataset


class RGBT234Dataset(RGBTDataset):
    name = "rgbt234"
    gt_files = (("init.txt", "xywh"),)
    rgb_gt_files = (("visible.txt", "xywh"),)
    tir_gt_files = (("infrared.txt", "xywh"),)
    modal_gt_required = True
