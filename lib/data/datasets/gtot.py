"""GTOT layout: ``<root>/<seq>/v/`` (RGB) and ``i/`` (TIR) frame folders (image formats differ
between the two), GT ``groundTruth_v.txt`` / ``groundTruth_i.txt`` as ``x1 y1 x2 y2`` separated
by spaces, converted to ``x, y, w, h`` with ``w = x2 - x1``, ``h = y2 - y1`` (GTOT's own
``init.txt`` uses the same convention and is the fallback when ``groundTruth_v.txt`` is absent).
The main GT is the RGB one."""
from .base import RGBTDataset


class GTOTDataset(RGBTDataset):
    name = "gtot"
    rgb_dirs = ("v",)
    tir_dirs = ("i",)
    gt_files = (("groundTruth_v.txt", "xyxy"), ("init.txt", "xywh"))
    rgb_gt_files = (("groundTruth_v.txt", "xyxy"),)
    tir_gt_files = (("groundTruth_i.txt", "xyxy"),)
    modal_gt_required = False
