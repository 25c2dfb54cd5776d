"""Qualitative figures: the ground truth and several trackers' boxes on the RGB and TIR frames.

A panel is one frame as RGB | TIR side by side; the visible GT is drawn on the RGB half and the
infrared GT on the TIR half (the same GT on both when the dataset has one), each tracker in its own
colour on both. A legend strip names the colours. Panels go to PNG files or a video, or several
chosen frames into one grid image for a paper.
"""
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib import colormaps

from lib.analysis.boxfile import read_box_file
from lib.analysis.resultfolder import locate_results
from lib.analysis.toolkit_protocol import corner_rows_to_boxes

GT_COLOUR = (255, 255, 255)          # white with a dark outline: visible on RGB and on thermal images
OUTLINE = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class TrackerBoxes:
    name: str
    colour: tuple
    boxes: dict              # sequence name -> (N, 4) x, y, w, h


def tracker_colour(index):
    """The index-th colour of matplotlib's tab10 (the curve plots' colours), as RGB 0..255."""
    return tuple(int(round(255 * c)) for c in colormaps["tab10"](index % 10)[:3])


def load_tracker_boxes(name, index, folder, seq_names, dataset, prefix=None):
    """A tracker's boxes for ``seq_names`` from a results folder as published (8-value corner rows
    become boxes as the RGBT234/GTOT toolkits read them)."""
    found = locate_results(folder, seq_names, dataset, prefix)
    boxes = {}
    for seq, path in zip(seq_names, found.files):
        rows = read_box_file(path, columns=(4, 8))
        boxes[seq] = corner_rows_to_boxes(rows) if rows.shape[1] == 8 else rows
    return TrackerBoxes(name, tracker_colour(index), boxes)


def draw_box(image, box, colour, thickness=2):
    """Draw an x, y, w, h box with a dark outline; boxes with NaN or no area are skipped."""
    if box is None or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        return
    x, y, w, h = (int(round(v)) for v in box)
    cv2.rectangle(image, (x, y), (x + w, y + h), OUTLINE, thickness + 2)
    cv2.rectangle(image, (x, y), (x + w, y + h), colour, thickness)


def render_panel(frame, index, gt_rgb, gt_tir, trackers, seq, caption=True):
    """One H x 2W x 3 RGB image: RGB | TIR of ``frame`` (H x W x 6) with the GT and the trackers'
    boxes of frame ``index`` (a tracker whose file is shorter draws nothing past its end)."""
    halves = [np.ascontiguousarray(frame[..., :3]), np.ascontiguousarray(frame[..., 3:])]
    for half, gt in zip(halves, (gt_rgb, gt_tir)):
        for tracker in trackers:
            rows = tracker.boxes[seq]
            draw_box(half, rows[index] if index < len(rows) else None, tracker.colour)
        draw_box(half, gt[index] if gt is not None and index < len(gt) else None, GT_COLOUR)
    if caption:
        put_text(halves[0], f"{seq} #{index}", (6, 18))
        put_text(halves[1], "TIR", (6, 18))
    return np.concatenate(halves, axis=1)


def put_text(image, text, origin, scale=0.5, colour=(255, 255, 255)):
    cv2.putText(image, text, origin, _FONT, scale, OUTLINE, 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)


def legend_strip(entries, width, scale=0.5):
    """A white strip naming each (label, colour) entry with a line of its colour, wrapped to ``width``."""
    row_height, gap = int(28 * scale / 0.5), 16
    items = [(label, colour, cv2.getTextSize(label, _FONT, scale, 1)[0][0] + 40) for label, colour in entries]
    rows, current, used = [], [], 0
    for item in items:
        if current and used + item[2] + gap > width:
            rows.append(current)
            current, used = [], 0
        current.append(item)
        used += item[2] + gap
    rows.append(current)
    strip = np.full((row_height * len(rows) + 6, width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        x, y = 8, row_height * r + row_height // 2 + 3
        for label, colour, item_width in row:
            cv2.line(strip, (x, y), (x + 28, y), OUTLINE, 6)
            cv2.line(strip, (x, y), (x + 28, y), colour, 4)
            cv2.putText(strip, label, (x + 36, y + 5), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
            x += item_width + gap
    return strip


def legend_entries(trackers):
    return [("Ground truth", GT_COLOUR)] + [(t.name, t.colour) for t in trackers]


def with_legend(panel, trackers):
    return np.concatenate([panel, legend_strip(legend_entries(trackers), panel.shape[1])], axis=0)


def grid_figure(panels, trackers, columns=1, pad=4):
    """Panels (equal size after resizing to the first) in rows of ``columns``, legend below."""
    height, width = panels[0].shape[:2]
    cells = [cv2.resize(p, (width, height), interpolation=cv2.INTER_AREA) if p.shape[:2] != (height, width) else p
             for p in panels]
    rows = -(-len(cells) // columns)
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, 3), 255, np.uint8)
    for k, cell in enumerate(cells):
        top, left = pad + (k // columns) * (height + pad), pad + (k % columns) * (width + pad)
        canvas[top:top + height, left:left + width] = cell
    return np.concatenate([canvas, legend_strip(legend_entries(trackers), canvas.shape[1])], axis=0)


def encode_png(image):
    """PNG bytes of an RGB image."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("cannot encode the image as PNG")
    return data.tobytes()
