"""argparse value types shared by the command-line tools."""
import argparse
from typing import Tuple, Union

__all__ = ["add_experiment_args", "frame_size", "frame_count", "non_negative_int"]

MIN_FRAME_SIDE = 64


def _whole(text: str, minimum: int) -> int:
    value = int(text)
    if value < minimum:
        raise ValueError(f"{value} < {minimum}")
    return value


def frame_size(text: str) -> Tuple[int, int]:
    """``WxH`` (e.g. ``320x256``), each side at least 64 pixels."""
    try:
        width, height = (_whole(v, MIN_FRAME_SIDE) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frame size WxH of at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE}, "
                                         f"e.g. 320x256; got {text!r}") from None
    return width, height


def frame_count(text: str) -> Union[int, Tuple[int, int]]:
    """Frames per sequence: ``K`` (>= 2) or a range ``LO-HI`` (2 <= LO <= HI) drawn per sequence."""
    try:
        if "-" not in text:
            return _whole(text, 2)
        low, high = (_whole(v, 2) for v in text.split("-"))
        if low > high:
            raise ValueError(f"{low} > {high}")
        return low, high
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K >= 2 frames or a range LO-HI, got {text!r}") from None


def non_negative_int(text: str) -> int:
    """A count >= 0."""
    try:
        return _whole(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count >= 0, got {text!r}") from None


def add_experiment_args(parser: argparse.ArgumentParser) -> None:
    """The two positional arguments of every tool that runs a config: ``tracker_name``, the
    experiment family (``tbsi_track``), and ``tracker_param``, the config name or a YAML path."""
    parser.add_argument("tracker_name", help="experiment family, the folder under experiments/: tbsi_track")
    parser.add_argument("tracker_param", help="config name in experiments/<tracker_name>/ (or a .yaml path)")
