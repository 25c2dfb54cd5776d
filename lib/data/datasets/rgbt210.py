"""RGBT210 layout: ``<root>/<seq>/visible/*.jpg``, ``infrared/*.jpg``, one GT ``init.txt``."""
from .base import RGBTDataset


class RGBT210Dataset(RGBTDataset):
    name = "rgbt210"
    gt_files = (("init.txt", "xywh"),)
