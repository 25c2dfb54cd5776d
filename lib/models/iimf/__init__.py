"""The IIMF network (MODEL.md sections 2-4) and its checkpoint loading."""
from .checkpoint import load_official_checkpoint, load_pretrained
from .iimf import IIMFBackbone, IIMFTrack, build_iimf

__all__ = ["IIMFBackbone", "IIMFTrack", "build_iimf", "load_official_checkpoint", "load_pretrained"]
