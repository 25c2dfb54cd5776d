r"""Export the IIMF tracking forward (batch 1) to ONNX for the onnxruntime backend.

    python tracking/export_onnx.py tbsi_track vitb_256_tbsi_32x1_1e4_lasher_15ep_sot \
        --checkpoint output/.../TBSITrack_ep0015.pth.tar --out output/iimf_sot.onnx
    python tracking/test.py tbsi_track <config> --backend onnxruntime --onnx output/iimf_sot.onnx ...
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lib.config import config_name, load_config  # noqa: E402
from lib.models.iimf import build_iimf, load_iimf  # noqa: E402
from lib.models.iimf.onnx_backend import OnnxRuntimeNet, export_onnx  # noqa: E402
from lib.utils.arguments import add_experiment_args  # noqa: E402
from lib.utils.io import file_sha256  # noqa: E402
from lib.utils.profiling import tracking_inputs  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_experiment_args(parser)
    parser.add_argument("--checkpoint", type=Path, help="weights ({'net': state_dict}); default: random weights")
    parser.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=18)
    args = parser.parse_args(argv)

    cfg = load_config(args.tracker_param, args.tracker_name)
    if args.checkpoint:
        net = load_iimf(cfg, args.checkpoint, verbose=True)
    else:
        net = build_iimf(cfg).eval()
        print("no --checkpoint: exporting random weights (for speed tests only)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"config": config_name(args.tracker_param),
                "checkpoint": str(args.checkpoint.absolute()) if args.checkpoint else "",
                "checkpoint_sha256": file_sha256(args.checkpoint) if args.checkpoint else ""}
    export_onnx(net, cfg, args.out, opset=args.opset, metadata=metadata)
    template, search = tracking_inputs(cfg)
    with torch.inference_mode():
        reference = net(template=template, search=search, return_features=False)
    exported = OnnxRuntimeNet(args.out)(template, search)
    worst = max((exported[k] - reference[k]).abs().max().item() for k in reference)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB); largest output difference "
          f"from PyTorch on a random input: {worst:.2e}")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:  # user errors: a message, not a traceback
        sys.exit(f"error: {err}")
