#!/usr/bin/env python
"""Write the compact official-model fixture used by tests/test_model.py.

    python tests/official/make_fixture.py --source ../shared/fixtures/official_forward

``--source`` holds ``sot_seed0.pt`` and ``in1k_seed0.pt``: the official IIMF code's outputs and
intermediates (recorded with forward hooks) for the seed-0 weights of ``weights.py`` and its
seeded inputs. This script checks that the stored inputs are the ones ``fixture_inputs()``
draws, then keeps what the tests need in ``forward_<tag>.npz`` (about 1 MB each):

* the head outputs (``pred_boxes``, ``score_map``, ``size_map``, ``offset_map``) whole;
* every token tensor (``backbone_feat``, ``embed.*``, ``after_*``, ``head.fused_search_tokens``)
  at every TOKEN_STRIDE-th token, and ``head.fused_map`` at every TOKEN_STRIDE-th channel;
  ``<key>.index`` holds the kept positions (a stride coprime with the 8 x 8 and 16 x 16 grids
  samples every row and column of both);
* ``weights_digest``: ``state_digest`` of the regenerated weights, so a torch whose random
  draws differ fails with that reason rather than with wrong numbers.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from weights import CONFIGS, HERE, fixture_inputs, official_state_dict, state_digest  # noqa: E402

TOKEN_STRIDE = 11
WHOLE = ("pred_boxes", "score_map", "size_map", "offset_map")


def compact(official: dict) -> dict:
    """The arrays kept from one official fixture file (see the module docstring)."""
    out = {}
    for key, value in official.items():
        if key in dict(fixture_inputs()):
            continue
        array = value.numpy()
        if key in WHOLE:
            out[key] = array
            continue
        index = np.arange(0, array.shape[1], TOKEN_STRIDE)
        out[key] = np.take(array, index, axis=1)
        out[f"{key}.index"] = index
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, type=Path, help="folder with sot_seed0.pt and in1k_seed0.pt")
    args = parser.parse_args(argv)
    inputs = fixture_inputs()
    for tag in CONFIGS:
        official = torch.load(args.source / f"{tag}_seed0.pt", weights_only=True)
        for name, value in inputs.items():
            if not torch.equal(official[name], value):
                raise SystemExit(f"{args.source / f'{tag}_seed0.pt'}: input {name} is not the one fixture_inputs() draws")
        arrays = compact(official)
        arrays["weights_digest"] = np.array(state_digest(official_state_dict(tag)))
        path = HERE / f"forward_{tag}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(arrays)} arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
