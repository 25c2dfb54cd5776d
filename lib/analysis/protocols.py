"""The three scoring protocols (docs/evaluation.md), by name.

pytracking  the OSTrack/pytracking analysis the original code ships (the seed's numbers)
toolkit     the LasHeR / RGBT234 / GTOT MATLAB toolkits' arithmetic (the published tables)
rgbt        the same toolkits as the PyPI package `rgbt` 1.0.1 computes them (results rounded)
"""
from lib.analysis.boxfile import AnalysisError
from lib.analysis.protocol_base import NORM_PRECISION, PRECISION, SUCCESS, ResultLengthWarning
from lib.analysis.pytracking_protocol import pytracking_protocol
from lib.analysis.rgbt_protocol import rgbt_protocol
from lib.analysis.toolkit_protocol import toolkit_protocol

__all__ = ["PROTOCOLS", "get_protocol", "ResultLengthWarning", "PRECISION", "NORM_PRECISION", "SUCCESS"]

PROTOCOLS = ("pytracking", "toolkit", "rgbt")


def get_protocol(name, dataset, pad_short=False):
    """The protocol ``name`` for ``dataset``; ``pad_short`` (pytracking only) pads short results with zeros."""
    if name not in PROTOCOLS:
        raise AnalysisError(f"unknown protocol '{name}' (choose from {', '.join(PROTOCOLS)})")
    if pad_short and name != "pytracking":
        raise AnalysisError("padding short result files is only part of the pytracking protocol")
    if name == "pytracking":
        return pytracking_protocol(dataset, pad_short)
    return toolkit_protocol(dataset) if name == "toolkit" else rgbt_protocol(dataset)
