"""int8 calibration by tracking: the activation ranges the exact float32 tracker produces on real frames."""
import numpy as np

from lib.models.iimf.int8 import RangeRecorder
from lib.test.tracker import IIMFTracker


def spread(count, total):
    """``count`` indices spread evenly over range(total)."""
    return sorted({int(i) for i in np.linspace(0, total - 1, min(count, total))})


def calibrate_by_tracking(net, cfg, sequences, frames):
    """Track the first ``frames`` frames of each sequence with ``net`` (a float32 IIMFTrack, not prepared
    for inference) on the CPU, recording the input range of every backbone Linear layer.
    Returns the RangeRecorder (``ranges``, ``frames``)."""
    tracker = IIMFTracker(net, cfg, "cpu")
    with RangeRecorder(net.backbone) as recorder:
        for seq in sequences:
            for index, frame in seq.frames(stop=min(frames, seq.num_frames)):
                if index == 0:
                    tracker.initialize(frame, seq.init_box)
                else:
                    tracker.track(frame)
    return recorder
