"""The IIMF network (docs/model.md): modules in iimf.py, building in builder.py, weights in checkpoint.py."""
from .builder import build_iimf, check_checkpoint_for_config, load_iimf, pretrained_path
from .checkpoint import load_official_checkpoint, load_pretrained
from .iimf import IIMFBackbone, IIMFTrack

__all__ = ["IIMFBackbone", "IIMFTrack", "build_iimf", "load_iimf", "check_checkpoint_for_config", "pretrained_path",
           "load_official_checkpoint", "load_pretrained"]
