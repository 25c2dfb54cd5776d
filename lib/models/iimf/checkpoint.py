"""Loading weights into a built IIMF network: official checkpoints, our training checkpoints and
pretrained inits.

The official model builds modules that never influence its output (docs/checkpoints.md#dropped-official-keys);
we do not build them, so ``convert_official_state_dict`` drops their keys, the way timm's
checkpoint filter functions adapt foreign checkpoints at load time. Building the network for a
config is ``builder.py``'s job.
"""
import os
import re
from pathlib import Path
from typing import Dict, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

PathLike = Union[str, os.PathLike]

# Keys of official checkpoints that belong to modules we do not build (no effect on any output).
DEAD_KEY_PATTERNS = [
    r"backbone\.(pos_embed|cls_token|middle_modality_x|middle_modality_z)$",
    r"backbone\.middle_fuse_[xz]\.",
    r"backbone\.sp_sh_layer\.(t_fusion_1|fused_sh_fusion_1|fused_sh_fusion_2|fused_t|ca_t2s_vsh2i|ca_t2s_ish2v)\.",
    r"\.attn_reshape\.proj_4\.",
]
_DEAD_KEYS = re.compile("|".join(DEAD_KEY_PATTERNS))


def is_dead_key(key: str) -> bool:
    return _DEAD_KEYS.search(key) is not None


def read_state_dict(path: PathLike, preferred_keys: Sequence[str] = ("net", "model", "state_dict"),
                    mmap: bool = False) -> Dict[str, torch.Tensor]:
    """The state dict in the checkpoint at ``path``: under the first of ``preferred_keys`` present,
    or the file itself when it is a flat dict of tensors; a ``module.`` prefix (DDP) is removed.

    Raises:
        FileNotFoundError, RuntimeError (not a readable checkpoint), ValueError (no state dict).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            ckpt = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except OSError as err:
        raise RuntimeError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    except Exception:  # unpickling errors of a truncated or foreign file say little: name the file
        raise RuntimeError(f"cannot read checkpoint {path}: not a PyTorch checkpoint, or a truncated one") from None
    for key in preferred_keys:
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            state = ckpt[key]
            break
    else:
        if isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            state = ckpt
        else:
            raise ValueError(f"checkpoint {path} holds no state_dict under any of {list(preferred_keys)}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def convert_official_state_dict(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], int]:
    """Drop the keys of never-used official modules. Returns (state_dict, number dropped)."""
    kept = {k: v for k, v in state.items() if not is_dead_key(k)}
    return kept, len(state) - len(kept)


def check_state_dict(net: nn.Module, state: Dict[str, torch.Tensor], source) -> None:
    """ValueError listing missing, unexpected and wrongly shaped keys (with `source` named)."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
                        for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or mismatched:
        def listing(title, keys):
            shown = "\n    ".join(keys[:20]) + (f"\n    ... and {len(keys) - 20} more" if len(keys) > 20 else "")
            return f"\n  {title} ({len(keys)}):\n    {shown}" if keys else ""
        raise ValueError(f"checkpoint {source} does not match the model built from the config "
                         f"(another config's checkpoint?):"
                         + listing("missing", missing) + listing("unexpected", unexpected)
                         + listing("wrong shape", mismatched))


def load_official_checkpoint(net: nn.Module, path: PathLike, verbose: bool = True) -> nn.Module:
    """Load an official IIMF checkpoint (``{'net': state_dict}``) or one of our training checkpoints.

    Args:
        net: the network of the checkpoint's config (``build_iimf(cfg)``).
        path: the checkpoint file.
        verbose: print how many tensors were loaded and dropped.

    Raises:
        ValueError: the checkpoint's keys or shapes do not match the network (all of them listed).
    """
    state, dropped = convert_official_state_dict(read_state_dict(path))
    check_state_dict(net, state, path)
    net.load_state_dict(state, strict=True)
    if verbose:
        note = f"; dropped {dropped} keys of official modules that never affect the output" if dropped else ""
        print(f"loaded {len(state)} tensors from {path}{note}")
    return net


def resize_pos_embed(pos_embed: torch.Tensor, grid: int, num_prefix_tokens: int = 1) -> torch.Tensor:
    """ViT (1, prefix + S*S, C) position embeddings -> (1, grid*grid, C), bicubic, prefix dropped."""
    patch = pos_embed[:, num_prefix_tokens:]
    side = int(round(patch.shape[1] ** 0.5))
    patch = patch.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, size=(grid, grid), mode="bicubic", align_corners=False)
    return patch.flatten(2).transpose(1, 2)


def load_pretrained(net: nn.Module, path: PathLike, whole_model: bool) -> nn.Module:
    """Initialise ``net`` for training from ``path``: a whole-model checkpoint (``whole_model``, the
    SOT init) or ImageNet ViT weights for the backbone, position embeddings resized to the template
    and search grids. Prints what was loaded, missing (kept at random init) and ignored."""
    if whole_model:
        state, dropped = convert_official_state_dict(read_state_dict(path, ("net",)))
        target, prefix = net, ""
    else:
        state = read_state_dict(path, ("model", "net", "state_dict"))
        dropped = 0
        if "pos_embed" in state:
            backbone = net.backbone
            state["pos_embed_z"] = resize_pos_embed(state["pos_embed"], backbone.template_grid)
            state["pos_embed_x"] = resize_pos_embed(state.pop("pos_embed"), backbone.search_grid)
        target, prefix = net.backbone, "backbone."
    expected = target.state_dict()
    usable = {k: v for k, v in state.items() if k in expected and v.shape == expected[k].shape}
    wrong_shape = sorted(k for k in state if k in expected and state[k].shape != expected[k].shape)
    if wrong_shape:
        raise ValueError(f"pretrained weights {path}: wrong shapes for {wrong_shape[:10]}")
    target.load_state_dict(usable, strict=False)
    missing = [prefix + k for k in expected if k not in usable]
    unexpected = [k for k in state if k not in expected]
    print(f"pretrained init from {path}: loaded {len(usable)}, missing {len(missing)} (kept at random init), "
          f"unexpected {len(unexpected)} (ignored){f', dropped {dropped} dead official keys' if dropped else ''}")
    if missing:
        print("  missing: " + ", ".join(sorted({_module_of(k) for k in missing})))
    return net


def _module_of(key):
    parts = key.split(".")
    return ".".join(parts[:3]) if parts[0] == "backbone" else ".".join(parts[:2])


def official_dead_parameter_count(net: nn.Module) -> int:
    """How many parameters the official model builds on top of ours for the same config.

    These are the modules behind DEAD_KEY_PATTERNS: the 224-px pos_embed and cls token, the
    middle_modality/middle_fuse members, six unused SpSh members and every proj_4.
    """
    backbone = net.backbone
    dim = backbone.pos_embed_x.shape[-1]
    hidden = backbone.blocks[0].mlp.fc1.out_features
    patch = backbone.patch_embed.proj.kernel_size[0]
    fuse = 2 * dim * dim + dim + 2 * dim                              # Linear(2C, C) + LayerNorm
    cross_block = 4 * dim + dim * dim + dim + 2 * dim * hidden + hidden + dim
    tokens = backbone.num_template + backbone.search_grid ** 2
    joint_blocks = 3 + len(backbone.tbsi_layers)
    return ((224 // patch) ** 2 + 1) * dim + dim + tokens * dim \
        + 6 * fuse + 2 * cross_block + joint_blocks * (2 * dim * dim + dim)


def parameter_counts(net: nn.Module) -> Dict[str, float]:
    """Parameters we build, and what the official model would hold (ours + its never-used ones)."""
    ours = sum(p.numel() for p in net.parameters())
    dead = official_dead_parameter_count(net)
    return {"params": ours, "params_m": ours / 1e6, "params_official": ours + dead,
            "params_official_m": (ours + dead) / 1e6, "params_dropped": dead}
