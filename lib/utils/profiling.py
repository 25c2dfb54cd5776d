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


def time_forward(forward, runs, warmup=2, synchronize=None):
    """Per-call seconds of forward() over `runs` calls after `warmup` calls."""
    for _ in range(warmup):
        forward()
    times = []
    for _ in range(runs):
        if synchronize:
            synchronize()
        start = time.perf_counter()
        forward()
        if synchronize:
            synchronize()
        times.append(time.perf_counter() - start)
    return times


def summarize_times(times):
    median = statistics.median(times)
    return {"latency_ms": 1000 * median, "latency_min_ms": 1000 * min(times), "fps": 1.0 / median,
            "runs": len(times)}
