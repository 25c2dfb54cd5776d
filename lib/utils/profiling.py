"""FLOPs and latency of one tracking forward (batch 1, template + search), for any network."""
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def tracking_inputs(cfg, device="cpu", batch=1):
    """Random normalised template and search crops of the sizes the tracker feeds the model."""
    gen = torch.Generator().manual_seed(0)
    z = [torch.randn(batch, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE, generator=gen) for _ in range(2)]
    x = [torch.randn(batch, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE, generator=gen) for _ in range(2)]
    return [t.to(device) for t in z], [t.to(device) for t in x]


def count_flops(forward):
    """FLOPs (multiply and add counted separately) of one call of forward()."""
    counter = FlopCounterMode(display=False)
    with counter:
        forward()
    return counter.get_total_flops()


def time_call(call, device="cpu") -> float:
    """Seconds one call of ``call()`` takes on ``device``: CUDA events around the call on a GPU
    (the GPU work itself, queued work from before finished first), the wall clock on the CPU."""
    device = torch.device(device)
    if device.type != "cuda":
        start = time.perf_counter()
        call()
        return time.perf_counter() - start
    torch.cuda.synchronize(device)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    call()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1000.0


def time_forward(forward, runs, warmup=2, device="cpu"):
    """Per-call seconds of ``forward()`` over ``runs`` calls after ``warmup`` calls (``time_call``)."""
    for _ in range(warmup):
        forward()
    return [time_call(forward, device) for _ in range(runs)]


def summarize_times(times):
    median = statistics.median(times)
    return {"latency_ms": 1000 * median, "latency_min_ms": 1000 * min(times), "fps": 1.0 / median,
            "runs": len(times)}
