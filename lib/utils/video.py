"""Frames from a video file or an image folder, and drawing tracked boxes on RGB-T frames."""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from lib.utils.io import list_frames, read_image

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v"}


class FrameSource:
    """The frames of a video file or of a folder of images (sorted numerically), as RGB uint8."""

    def __init__(self, path, role):
        self.path = Path(path)
        self.role = role
        if self.path.is_dir():
            self.files = list_frames(self.path)
            if not self.files:
                raise ValueError(f"{role} folder {self.path} holds no images")
            self.num_frames = len(self.files)
            first = read_image(self.files[0])
        elif self.path.is_file():
            self.files = None
            capture = cv2.VideoCapture(str(self.path))
            ok, first = capture.read()
            self.num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
            capture.release()
            if not ok:
                raise ValueError(f"{role} video {self.path} cannot be decoded")
            first = cv2.cvtColor(first, cv2.COLOR_BGR2RGB)
        else:
            raise FileNotFoundError(f"{role} input {self.path} is neither a video file nor a folder of images")
        self.size = first.shape[1], first.shape[0]

    def __iter__(self):
        if self.files is not None:
            for file in self.files:
                yield read_image(file)
            return
        capture = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def paired_frames(rgb, tir):
    """Yield H x W x 6 RGB-T frames from two sources, checking that lengths and sizes agree."""
    if rgb.size != tir.size:
        raise ValueError(f"RGB {rgb.path} is {rgb.size[0]}x{rgb.size[1]} but TIR {tir.path} is "
                         f"{tir.size[0]}x{tir.size[1]}: the two modalities must be registered and equally sized")
    if rgb.num_frames != tir.num_frames:
        raise ValueError(f"RGB {rgb.path} has {rgb.num_frames} frames but TIR {tir.path} has {tir.num_frames}")
    for index, (rgb_frame, tir_frame) in enumerate(zip(rgb, tir)):
        if rgb_frame.shape != tir_frame.shape:
            raise ValueError(f"frame {index}: RGB is {rgb_frame.shape} but TIR is {tir_frame.shape}")
        yield np.concatenate([rgb_frame, tir_frame], axis=2)


def draw_rgbt(frame, boxes, colors=((0, 255, 0),), labels=None, caption=None):
    """RGB and TIR halves of an H x W x 6 frame side by side (H x 2W x 3, RGB) with boxes drawn on both."""
    halves = [np.ascontiguousarray(frame[..., :3]), np.ascontiguousarray(frame[..., 3:])]
    for half in halves:
        for k, box in enumerate(boxes):
            if box is None or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
                continue
            x, y, w, h = (int(round(v)) for v in box)
            color = colors[k % len(colors)]
            cv2.rectangle(half, (x, y), (x + w, y + h), color, 2)
            if labels:
                cv2.putText(half, labels[k], (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1)
    canvas = np.concatenate(halves, axis=1)
    if caption:
        cv2.putText(canvas, caption, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return canvas


class VideoWriter:
    """Writes RGB frames to .mp4/.avi (OpenCV) or .gif (Pillow); the file appears only when closed."""

    def __init__(self, path, fps=20.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self.frames = []
        self.writer = None
        self.tmp = self.path.with_name(self.path.stem + ".part" + self.path.suffix)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
            return
        if self.writer is not None:  # a failed run leaves no half-written video behind
            self.writer.release()
        self.tmp.unlink(missing_ok=True)

    def write(self, rgb):
        if self.path.suffix.lower() == ".gif":
            self.frames.append(rgb)
            return
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (rgb.shape[1], rgb.shape[0]))
            if not self.writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write video {self.path}; try a .avi or .gif output")
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self):
        if self.writer is None and not self.frames:
            raise ValueError(f"no frames were written to {self.path}")
        if self.path.suffix.lower() == ".gif":
            images = [Image.fromarray(f) for f in self.frames]
            images[0].save(self.tmp, save_all=True, append_images=images[1:], duration=int(1000 / self.fps), loop=0)
        elif self.writer is not None:
            self.writer.release()
        self.tmp.replace(self.path)
        return self.path
