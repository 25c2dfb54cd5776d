"""A plain, per-stream forward of an IIMFTrack with the original's layout of the computation.

It reads the same weights as the model but computes the way the official code does
(docs/model.md#what-this-project-computes-differently): each token stream through each block separately, attention as explicit
matmuls, the cross-attention blocks' LayerNorm and MLP over all tokens (key tokens included,
then discarded), the discarded proj_4 projections and all backbone features.
It serves as the "plain" baseline of tracking/benchmark_inference.py, and the tests use it as an
independent check of the batched, query-only computation in iimf.py.
"""
import torch
import torch.nn.functional as F


def _vit_block(block, x):
    attn = block.attn
    batch, tokens, dim = x.shape
    qkv = attn.qkv(block.norm1(x)).reshape(batch, tokens, 3, attn.num_heads, dim // attn.num_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    weights = torch.softmax(q @ k.transpose(-2, -1) * attn.scale, dim=-1)
    x = x + attn.proj((weights @ v).transpose(1, 2).reshape(batch, tokens, dim))
    return x + block.mlp(block.norm2(x))


def _cross_block(block, query, key, query_first):
    """The original CASTBlock on [query; key] (or [key; query]); returns the query positions."""
    tokens = torch.cat([query, key] if query_first else [key, query], dim=1)
    normed = block.norm1(tokens)
    nq = query.shape[1]
    q_part, k_part = (normed[:, :nq], normed[:, nq:]) if query_first else (normed[:, -nq:], normed[:, :-nq])
    out = block.attn_reshape(q_part, k_part)
    tokens = tokens + torch.cat([out, k_part] if query_first else [k_part, out], dim=1)
    tokens = tokens + block.mlp(block.norm2(tokens))
    return tokens[:, :nq] if query_first else tokens[:, -nq:]


def _joint_block(block, template, first, second, to_template):
    """The original CASTBlockDoubleToken on [template; first; second], with its discarded proj_4."""
    attn = block.attn_reshape
    nz = template.shape[1]
    normed = block.norm1(torch.cat([template, first, second], dim=1))
    t_hat, p_hat, q_hat = normed.split([nz, first.shape[1], second.shape[1]], dim=1)
    dim = t_hat.shape[-1]
    proj_4 = torch.zeros(dim, 2 * dim, dtype=t_hat.dtype, device=t_hat.device)
    if to_template:
        fused = attn.template_queries(t_hat, p_hat, q_hat)
        attn_out = torch.cat([fused, F.linear(torch.cat([p_hat, q_hat], dim=-1), proj_4)], dim=1)
    else:
        fused = attn.pair_queries(t_hat, p_hat, q_hat)
        attn_out = torch.cat([F.linear(torch.cat([t_hat, t_hat], dim=-1), proj_4), fused], dim=1)
    tokens = torch.cat([template, first + second], dim=1) + attn_out
    tokens = tokens + block.mlp(block.norm2(tokens))
    return tokens[:, :nz] if to_template else tokens[:, nz:]


def _spsh(layer, rgb, tir, nz):
    zv, sv, zi, si = rgb[:, :nz], rgb[:, nz:], tir[:, :nz], tir[:, nz:]
    fused = layer.t_fusion(torch.cat([zv, zi], dim=-1))
    zv_sp = _cross_block(layer.ca_s2t_v2vsp, zv, sv, True)
    zi_sp = _cross_block(layer.ca_s2t_i2isp, zi, si, True)
    fused = _joint_block(layer.ca_s2t_vi2sh, fused, sv, si, True)
    shared_search = _joint_block(layer.ca_t2s_vi2sh, fused, sv, si, False)
    si_new = _cross_block(layer.ca_t2s_isp2i, si, zv_sp, False)
    sv_new = _cross_block(layer.ca_t2s_vsp2v, sv, zi_sp, False)
    shared_template = _joint_block(layer.ca_t2t_vi2sh, fused, zi, zv, False)
    zi_new = _cross_block(layer.ca_t2t_f2i, zi, fused, True)
    zv_new = _cross_block(layer.ca_t2t_f2v, zv, fused, True)
    return (torch.cat([zv_new, sv_new], 1), torch.cat([zi_new, si_new], 1),
            torch.cat([shared_template, shared_search], 1))


def _tbsi(layer, rgb, tir, shared, nz):
    fused = layer.fused_t(torch.cat([rgb[:, :nz], tir[:, :nz]], dim=-1))
    fused = _joint_block(layer.ca_s2t_vi2sh, fused, rgb[:, nz:], tir[:, nz:], True)
    shared_search = _cross_block(layer.ca_t2s_f2sh, shared[:, nz:], fused, False)
    shared_template = _cross_block(layer.ca_t2t_f2f, shared[:, :nz], fused, True)
    return torch.cat([shared_template, shared_search], dim=1)


def reference_forward(net, template, search):
    """Same outputs as net(template=..., search=...), computed the original's way."""
    bb = net.backbone
    nz = bb.num_template
    rgb, tir = (bb.embed(z, x) for z, x in zip(template, search))
    shared = None
    for k, block in enumerate(bb.blocks):
        rgb, tir = _vit_block(block, rgb), _vit_block(block, tir)
        if shared is not None:
            shared = _vit_block(block, shared)
        if k == bb.spsh_loc:
            rgb, tir, shared = _spsh(bb.sp_sh_layer, rgb, tir, nz)
        if k in bb.tbsi_loc:
            shared = _tbsi(bb.tbsi_layers[bb.tbsi_loc.index(k)], rgb, tir, shared, nz)
    feat = bb.norm(torch.cat([rgb, tir, shared], dim=1))
    out = net.forward_head(feat)
    out["backbone_feat"] = feat
    return out


class ReferenceNet(torch.nn.Module):
    """``reference_forward`` as a network the tracker can run (the benchmark's `plain` path)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, template, search):
        return reference_forward(self.net, template, search)
