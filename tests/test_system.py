"""Process-level settings of lib/utils/system.py."""
import os
import subprocess
import sys
import textwrap

import pytest

from lib.utils.system import available_cpus

FAULTS_BEFORE_AND_AFTER = textwrap.dedent("""
    import ctypes, resource, sys, torch
    from lib.utils.system import reuse_freed_memory

    ctypes.CDLL("libc.so.6").mallopt(-3, 128 << 10)  # glibc's starting point: blocks > 128 KiB mmapped

    def faults():  # four 12 MiB tensors alive at once, freed together
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            tensors = [torch.ones(3 << 20) for _ in range(4)]
            del tensors
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

    faults()
    before = faults()
    changed = reuse_freed_memory()
    faults()
    print(before, changed, faults())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_reuse_freed_memory_stops_page_faults_on_repeated_large_allocations():
    out = subprocess.run([sys.executable, "-c", FAULTS_BEFORE_AND_AFTER], capture_output=True, text=True, check=True)
    before, changed, after = out.stdout.split()
    assert changed == "True"
    assert int(before) > 10_000          # 240 MiB of fresh pages per round by default
    assert int(after) < 100              # the same pages reused


def test_available_cpus_is_positive_and_at_most_the_cpu_count():
    assert 1 <= available_cpus() <= (os.cpu_count() or 1)
