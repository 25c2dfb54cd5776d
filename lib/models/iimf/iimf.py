"""IIMF: a one-stream ViT tracker with RGB, TIR and modality-shared token streams.

    template = [z_rgb, z_tir]   (B, 3, Hz, Wz) each, normalised
    search   = [x_rgb, x_tir]   (B, 3, Hx, Wx) each, normalised
    out = IIMFTrack(...)(template=template, search=search)

Data flow (docs/model.md#data-flow): shared patch and position embeddings; the RGB and TIR
streams run through the same ViT blocks (as one batch); after block SPSH_LOC the SpSh layer
creates the shared stream, which then runs through the remaining blocks too; after each block
in TBSI_LOC a TBSI layer updates the shared stream; finally the RGB/TIR search tokens are fused,
joined with the shared search tokens and decoded by the center head.
"""
from typing import Dict, Sequence

import torch
from torch import nn

from .cross_attention import fuse_layer
from .head import CenterPredictor, fuse_search_maps, tokens_to_map
from .interaction import TBSILayer
from .spsh import SpShLayer
from .vit import PatchEmbed, ViTNorm, make_blocks


class IIMFBackbone(nn.Module):
    """The shared ViT with its modality-shared stream: RGB, TIR and shared tokens out.

    Args:
        embed_dim: token channels C (768 for ViT-B).
        depth: ViT blocks.
        num_heads: attention heads of the ViT blocks (the cross blocks use one head, scaled as these).
        mlp_ratio: MLP hidden width / C.
        patch_size: patch side in pixels (``MODEL.BACKBONE.STRIDE``).
        template_size, search_size: crop sides in pixels (multiples of ``patch_size``).
        tbsi_loc: blocks after which a TBSI layer updates the shared stream.
        spsh_loc: block after which the SpSh layer creates the shared stream (before every TBSI layer).
        drop_path_rate: stochastic depth of the last ViT block (linear from 0; training only).
        tbsi_drop_path: stochastic depth of the SpSh layer (entry 0) and TBSI layer j (entry j).
    """

    def __init__(self, embed_dim: int, depth: int, num_heads: int, mlp_ratio: float, patch_size: int,
                 template_size: int, search_size: int, tbsi_loc: Sequence[int], spsh_loc: int = 1,
                 drop_path_rate: float = 0.0, tbsi_drop_path: Sequence[float] = ()):
        super().__init__()
        if not 0 <= spsh_loc < depth or any(not spsh_loc < k < depth for k in tbsi_loc):
            raise ValueError(f"config: need MODEL.BACKBONE.SPSH_LOC < every MODEL.BACKBONE.TBSI_LOC < "
                             f"MODEL.BACKBONE.DEPTH, got SPSH_LOC={spsh_loc}, TBSI_LOC={list(tbsi_loc)}, "
                             f"DEPTH={depth}")
        self.template_grid = template_size // patch_size
        self.search_grid = search_size // patch_size
        self.num_template = self.template_grid ** 2
        self.spsh_loc = spsh_loc
        self.tbsi_loc = list(tbsi_loc)
        scale = (embed_dim // num_heads) ** -0.5

        def layer_drop_path(j):
            return tbsi_drop_path[j] if j < len(tbsi_drop_path) else 0.0

        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.pos_embed_z = nn.Parameter(torch.zeros(1, self.num_template, embed_dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, self.search_grid ** 2, embed_dim))
        self.blocks = make_blocks(embed_dim, depth, num_heads, mlp_ratio, drop_path_rate)
        self.norm = ViTNorm(embed_dim)
        self.sp_sh_layer = SpShLayer(embed_dim, scale, mlp_ratio, layer_drop_path(0))
        self.tbsi_layers = nn.ModuleList(
            TBSILayer(embed_dim, scale, mlp_ratio, layer_drop_path(j)) for j in range(len(self.tbsi_loc)))
        self._init_weights()

    def _init_weights(self):
        nn.init.trunc_normal_(self.pos_embed_z, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_x, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def embed(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """One (B, Nz + Nx, C) token stream from a template and a search image of one modality."""
        return torch.cat([self.patch_embed(template) + self.pos_embed_z,
                          self.patch_embed(search) + self.pos_embed_x], dim=1)

    def forward(self, z_rgb: torch.Tensor, z_tir: torch.Tensor, x_rgb: torch.Tensor, x_tir: torch.Tensor,
                need_shared_template: bool = True) -> torch.Tensor:
        """LN([rgb; tir; shared]) tokens, (B, 3 * (Nz + Nx), C), from normalised (B, 3, H, W) crops.

        ``need_shared_template=False`` skips the last TBSI layer's shared-template update when no
        later block reads it (tracking; the head reads search tokens only).
        """
        batch = z_rgb.shape[0]
        nz = self.num_template
        streams = torch.cat([self.embed(z_rgb, x_rgb), self.embed(z_tir, x_tir)], dim=0)  # (2B, N, C)
        last = len(self.blocks) - 1
        for k, block in enumerate(self.blocks):
            streams = block(streams)  # rgb, tir (and shared) as one batch through shared weights
            if k == self.spsh_loc:
                rgb, tir, shared = self.sp_sh_layer(streams[:batch], streams[batch:], nz)
                streams = torch.cat([rgb, tir, shared], dim=0)
            if k in self.tbsi_loc:
                rgb, tir, shared = streams.split(batch, dim=0)
                layer = self.tbsi_layers[self.tbsi_loc.index(k)]
                shared = layer(rgb, tir, shared, nz, update_shared_template=need_shared_template or k < last)
                streams = torch.cat([rgb, tir, shared], dim=0)
        return self.norm(torch.cat(streams.split(batch, dim=0), dim=1))


class IIMFTrack(nn.Module):
    """Backbone, search fusion and center head. Top-level names match official checkpoints.

    Args:
        backbone: the IIMFBackbone.
        head_channels: channels of the center head's first conv (``MODEL.HEAD.NUM_CHANNELS``).
    """

    def __init__(self, backbone: IIMFBackbone, head_channels: int):
        super().__init__()
        dim = backbone.pos_embed_x.shape[-1]
        self.backbone = backbone
        self.tbsi_fuse_search = fuse_layer(dim)            # [rgb search || tir search] tokens -> fused tokens
        self.tbsi_fuse_middle = fuse_search_maps(dim)      # [fused map ; shared map] -> head input
        self.box_head = CenterPredictor(dim, head_channels)

    def forward(self, template: Sequence[torch.Tensor], search: Sequence[torch.Tensor],
                return_features: bool = True) -> Dict[str, torch.Tensor]:
        """``template = [z_rgb, z_tir]``, ``search = [x_rgb, x_tir]`` normalised crops -> ``pred_boxes``
        (B, 1, 4) normalised cx, cy, w, h, ``score_map`` (B, 1, F, F), ``size_map`` and ``offset_map``
        (B, 2, F, F), and with ``return_features`` the ``backbone_feat`` tokens."""
        z_rgb, z_tir = template
        x_rgb, x_tir = search
        feat = self.backbone(z_rgb, z_tir, x_rgb, x_tir, need_shared_template=return_features)
        out = self.forward_head(feat)
        if return_features:
            out["backbone_feat"] = feat
        return out

    def forward_head(self, feat: torch.Tensor) -> Dict[str, torch.Tensor]:
        """feat: (B, 3N, C) = [rgb; tir; shared] streams, each [template; search]."""
        nz = self.backbone.num_template
        n = feat.shape[1] // 3
        rgb_search, tir_search, shared_search = (feat[:, j * n + nz:(j + 1) * n] for j in range(3))
        fused = self.tbsi_fuse_search(torch.cat([rgb_search, tir_search], dim=-1))
        grid = self.backbone.search_grid
        search_map = self.tbsi_fuse_middle(torch.cat([tokens_to_map(fused, grid),
                                                      tokens_to_map(shared_search, grid)], dim=1))
        score_map, size_map, offset_map = self.box_head(search_map)
        pred_boxes = self.box_head.boxes_from_maps(score_map, size_map, offset_map)
        return {"pred_boxes": pred_boxes, "score_map": score_map, "size_map": size_map,
                "offset_map": offset_map}
