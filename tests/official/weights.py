"""Random weights in the official checkpoint's layout, drawn from a seed.

The official-model fixture (``forward_<tag>.npz``) was computed by the official IIMF code on
weights drawn by these rules, so the tests regenerate the same weights instead of storing
~200 M numbers:

* One ``torch.Generator`` seeded with ``seed`` walks ``state_dict_<tag>.tsv`` (the official
  state_dict's keys, shapes and dtypes, in order). Integer entries (BatchNorm's
  ``num_batches_tracked``) are 0 and draw nothing. Float entries are drawn by name:
  ``running_var``: U(0.5, 1.5); ``running_mean``: 0.1 N(0, 1); a ``weight`` with two or more
  dims: N(0, 1) times ``1 / sqrt(fan_in)`` (fan_in = product of the dims after the first); a
  1-dim ``weight``: 1 + 0.1 N(0, 1); a ``bias`` and anything else: 0.02 N(0, 1).
* A second generator seeded with ``seed + 777`` then sharpens the box head so that the random
  network gives a clear score-map peak: ``conv5_ctr.weight`` times a gain, ``conv5_ctr.bias``
  and ``conv5_size.bias`` set to constants plus 0.05 N(0, 1) (drawn in that order).

The multiplications are written exactly as the rules (``randn * (1.0 / sqrt(n))``, not
``randn / sqrt(n)``), because a different order of operations gives different float32 bits.
"""
import hashlib
import math
from pathlib import Path
from typing import Dict, List, Tuple

import torch

HERE = Path(__file__).resolve().parent
CONFIGS = {"sot": "vitb_256_tbsi_32x1_1e4_lasher_15ep_sot", "in1k": "vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k"}
HEAD_GAINS = {"sot": (20.0, -2.6, -1.35), "in1k": (14.0, -3.5, -1.0)}   # ctr gain, ctr bias, size bias
HEAD_SEED_OFFSET = 777
INPUT_SEED = 1000
INPUT_SHAPES = (("template_rgb", (1, 3, 128, 128)), ("template_tir", (1, 3, 128, 128)),
                ("search_rgb", (1, 3, 256, 256)), ("search_tir", (1, 3, 256, 256)))

Entry = Tuple[str, Tuple[int, ...], str, str]   # key, shape, dtype, "param" | "buffer"


def read_layout(tag: str) -> List[Entry]:
    """The official state_dict layout of config ``tag`` ("sot" or "in1k"), in checkpoint order."""
    entries = []
    for line in (HERE / f"state_dict_{tag}.tsv").read_text().splitlines():
        if not line.strip():
            continue
        key, shape, dtype, kind = line.split("\t")
        dims = tuple(int(d) for d in shape.strip("[]").split(",") if d.strip())
        entries.append((key, dims, dtype, kind))
    return entries


def _draw(key: str, shape: Tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    normal = lambda: torch.randn(shape, generator=gen)  # noqa: E731 - drawn only in the chosen branch
    if key.endswith("running_var"):
        return torch.rand(shape, generator=gen) + 0.5
    if key.endswith("running_mean"):
        return 0.1 * normal()
    if key.endswith("weight") and len(shape) >= 2:
        return normal() * (1.0 / math.sqrt(math.prod(shape[1:])))
    if key.endswith("weight"):
        return 1.0 + 0.1 * normal()
    return 0.02 * normal()


def seeded_state_dict(layout: List[Entry], seed: int, head_gains: Tuple[float, float, float]) -> Dict[str, torch.Tensor]:
    """Weights for any state-dict ``layout`` drawn by the rules of the module docstring."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype, _ in layout:
        if dtype.startswith("float"):
            state[key] = _draw(key, shape, gen)
        else:
            state[key] = torch.zeros(shape, dtype=getattr(torch, dtype))
    gain, ctr_bias, size_bias = head_gains
    head_gen = torch.Generator().manual_seed(seed + HEAD_SEED_OFFSET)
    state["box_head.conv5_ctr.weight"] = state["box_head.conv5_ctr.weight"] * gain
    state["box_head.conv5_ctr.bias"] = ctr_bias + 0.05 * torch.randn(1, generator=head_gen)
    state["box_head.conv5_size.bias"] = size_bias + 0.05 * torch.randn(2, generator=head_gen)
    return state


def official_state_dict(tag: str, seed: int = 0) -> Dict[str, torch.Tensor]:
    """The fixture's weights of config ``tag`` under the official key names (see the module docstring)."""
    return seeded_state_dict(read_layout(tag), seed, HEAD_GAINS[tag])


def layout_of(state: Dict[str, torch.Tensor]) -> List[Entry]:
    """The layout of a state dict (to draw seeded weights for one of our own configs)."""
    return [(key, tuple(value.shape), str(value.dtype).removeprefix("torch."), "") for key, value in state.items()]


def fixture_inputs() -> Dict[str, torch.Tensor]:
    """The fixture's inputs: standard-normal crops drawn in a fixed order from one seed."""
    gen = torch.Generator().manual_seed(INPUT_SEED)
    return {name: torch.randn(shape, generator=gen) for name, shape in INPUT_SHAPES}


def state_digest(state: Dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's key, dtype, shape and bytes, in order: a change in torch's random
    draws (which would make the stored official outputs meaningless) shows up here first."""
    h = hashlib.sha256()
    for key, value in state.items():
        h.update(f"{key}|{value.dtype}|{tuple(value.shape)}".encode())
        h.update(value.contiguous().numpy().tobytes())
    return h.hexdigest()
