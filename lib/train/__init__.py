"""Training of IIMF: losses, actor, trainer, torchrun launch (see tracking/train.py)."""
