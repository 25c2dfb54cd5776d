"""The network against the official model's outputs, and its construction rules."""
import numpy as np
import pytest
import torch

from lib.config import load_config
from lib.models.iimf import build_iimf, load_official_checkpoint
from lib.models.iimf.checkpoint import convert_official_state_dict
from lib.models.iimf.cross_attention import rearrange_channels
from tests.official.weights import CONFIGS, HERE as FIXTURE_DIR, fixture_inputs, official_state_dict, state_digest
OUTPUTS = ["pred_boxes", "score_map", "size_map", "offset_map", "backbone_feat"]


def _record_intermediates(net):
    """Hooks that store the per-stream outputs under the fixture's key names."""
    store, backbone = {}, net.backbone

    def split(output, names, prefix):
        for name, part in zip(names, output.chunk(len(names), dim=0)):
            store[f"{prefix}.{name}"] = part.clone()

    for k in (0, 1):
        backbone.blocks[k].register_forward_hook(
            lambda m, i, o, k=k: split(o, ["rgb", "tir"], f"after_block{k}"))
    backbone.sp_sh_layer.register_forward_hook(
        lambda m, i, o: store.update({f"after_spsh.{n}": t.clone() for n, t in zip(["rgb", "tir", "shared"], o)}))
    for j, layer in enumerate(backbone.tbsi_layers):
        layer.register_forward_hook(lambda m, i, o, j=j: store.update({f"after_tbsi{j}.shared": o.clone()}))
    net.tbsi_fuse_search.register_forward_hook(lambda m, i, o: store.update({"head.fused_search_tokens": o.clone()}))
    net.tbsi_fuse_middle.register_forward_hook(lambda m, i, o: store.update({"head.fused_map": o.clone()}))
    return store


def _run_fixture(net, inputs):
    net.eval()
    with torch.no_grad():
        return net(template=[inputs["template_rgb"], inputs["template_tir"]],
                   search=[inputs["search_rgb"], inputs["search_tir"]])


def _assert_matches_fixture(ours, fixture, key, what=""):
    """Compare with the official value at the positions the fixture kept (atol = rtol = 1e-4)."""
    value = ours.detach().numpy()
    if f"{key}.index" in fixture:
        value = np.take(value, fixture[f"{key}.index"], axis=1)
    torch.testing.assert_close(torch.from_numpy(value), torch.from_numpy(fixture[key]), atol=1e-4, rtol=1e-4,
                               msg=lambda m: f"{what}{key}: {m}")


@pytest.mark.parametrize("tag", ["sot", "in1k"])
def test_matches_official_outputs_and_intermediates(tag, tmp_path):
    fixture = dict(np.load(FIXTURE_DIR / f"forward_{tag}.npz"))
    official = official_state_dict(tag)
    assert state_digest(official) == str(fixture["weights_digest"]), \
        "this torch draws other random numbers than the one the fixture was made with"
    inputs = fixture_inputs()
    net = build_iimf(load_config(CONFIGS[tag]))
    if tag == "sot":  # through the official file format
        ckpt = tmp_path / "iimf_sot_seed0.pth.tar"
        torch.save({"net": official}, ckpt)
        load_official_checkpoint(net, ckpt)
        ckpt.unlink()
    else:
        state, dropped = convert_official_state_dict(official)
        assert dropped == 60
        net.load_state_dict(state, strict=True)
    del official
    store = _record_intermediates(net)
    out = _run_fixture(net, inputs)
    for key in OUTPUTS:
        _assert_matches_fixture(out[key], fixture, key)
    compared = [k for k in fixture if k in store]
    assert len(compared) >= (9 if tag == "sot" else 5)
    for key in compared:
        _assert_matches_fixture(store[key], fixture, key)
    from lib.models.iimf.inference import prepare_for_inference
    exact = _run_fixture(prepare_for_inference(net, "fp32", "cpu"), inputs)  # the tracker's default path
    for key in ["pred_boxes", "score_map", "size_map", "offset_map"]:
        _assert_matches_fixture(exact[key], fixture, key, "exact ")
    if tag == "sot":  # the per-stream reference computation reaches the same numbers
        from lib.models.iimf.reference import reference_forward
        with torch.no_grad():
            reference = reference_forward(net, [inputs["template_rgb"], inputs["template_tir"]],
                                          [inputs["search_rgb"], inputs["search_tir"]])
        for key in OUTPUTS:
            _assert_matches_fixture(reference[key], fixture, key, "reference ")


def test_parameter_counts_without_dead_modules():
    counts = {tag: sum(p.numel() for p in build_iimf(load_config(name)).parameters())
              for tag, name in CONFIGS.items()}
    # Official totals 200,252,037 / 240,415,365 minus the never-used parameters (docs/model.md#parameter-counts).
    assert counts["sot"] == 200_252_037 - 18_121_728 - 4_721_664
    assert counts["in1k"] == 240_415_365 - 18_121_728 - 7_082_496


def test_checkpoint_with_wrong_keys_is_rejected_with_the_keys_named(tiny_cfg, tmp_path):
    net = build_iimf(tiny_cfg)
    state = net.state_dict()
    state["backbone.extra.weight"] = torch.zeros(3)
    del state["box_head.conv5_ctr.bias"]
    state["tbsi_fuse_search.0.bias"] = torch.zeros(7)
    path = tmp_path / "bad.pth.tar"
    torch.save({"net": state}, path)
    with pytest.raises(ValueError) as err:
        load_official_checkpoint(build_iimf(tiny_cfg), path)
    text = str(err.value)
    assert "backbone.extra.weight" in text and "box_head.conv5_ctr.bias" in text
    assert "tbsi_fuse_search.0.bias" in text and str(path) in text


def test_own_checkpoint_round_trip_and_dead_keys_dropped(tiny_cfg, tmp_path, capsys):
    net = build_iimf(tiny_cfg)
    state = dict(net.state_dict())
    state["backbone.pos_embed"] = torch.zeros(1, 5, 96)                       # dead official keys
    state["backbone.sp_sh_layer.ca_t2s_vi2sh.attn_reshape.proj_4.weight"] = torch.zeros(96, 192)
    path = tmp_path / "ok.pth.tar"
    torch.save({"net": {"module." + k: v for k, v in state.items()}}, path)
    other = load_official_checkpoint(build_iimf(tiny_cfg), path)
    assert "dropped 2 keys" in capsys.readouterr().out
    for key, value in net.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)


def test_legacy_checkpoints_load_and_junk_files_are_named(tiny_cfg, tmp_path):
    from lib.models.iimf import check_checkpoint_for_config
    net = build_iimf(tiny_cfg)
    legacy = tmp_path / "legacy.pth.tar"  # the pre-1.6 torch.save format cannot be memory-mapped
    torch.save({"net": net.state_dict()}, legacy, _use_new_zipfile_serialization=False)
    check_checkpoint_for_config(tiny_cfg, legacy)
    load_official_checkpoint(build_iimf(tiny_cfg), legacy, verbose=False)
    junk = tmp_path / "junk.pth.tar"
    junk.write_text("not weights")
    with pytest.raises(RuntimeError, match=f"cannot read checkpoint {junk}: not a PyTorch checkpoint, or a truncated one$"):
        check_checkpoint_for_config(tiny_cfg, junk)


def test_tiny_model_shapes_follow_the_config(tiny_cfg):
    net = build_iimf(tiny_cfg).eval()
    z = torch.randn(2, 3, 64, 64)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        out = net(template=[z, z.flip(-1)], search=[x, x.flip(-1)])
    assert out["score_map"].shape == (2, 1, 8, 8)
    assert out["size_map"].shape == (2, 2, 8, 8) and out["offset_map"].shape == (2, 2, 8, 8)
    assert out["backbone_feat"].shape == (2, 3 * (16 + 64), 96)
    assert out["pred_boxes"].shape == (2, 1, 4)
    # The box is read at the score argmax.
    idx = out["score_map"][1, 0].flatten().argmax()
    cx = (idx % 8 + out["offset_map"][1, 0].flatten()[idx]) / 8
    assert torch.isclose(out["pred_boxes"][1, 0, 0], cx)
    assert torch.isclose(out["pred_boxes"][1, 0, 2], out["size_map"][1, 0].flatten()[idx])


def test_skipping_the_unread_shared_template_keeps_the_head_outputs(tiny_cfg):
    net = build_iimf(tiny_cfg).eval()
    z, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        full = net(template=[z, z], search=[x, x])
        fast = net(template=[z, z], search=[x, x], return_features=False)
    for key in ["pred_boxes", "score_map", "size_map", "offset_map"]:
        assert torch.equal(full[key], fast[key])


def test_rearrange_channels_matches_the_definition():
    y = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(2, 4, 6)
    r = rearrange_channels(y)
    length, dim = 4, 6
    for n in range(length):
        for m in range(dim):
            flat = n * dim + m
            assert r[1, n, m] == y[1, flat % length, flat // length]


def test_bad_configs_are_errors(tiny_cfg):
    tiny_cfg.MODEL.BACKBONE.TBSI_LOC = [1]
    with pytest.raises(ValueError, match="TBSI_LOC"):
        build_iimf(tiny_cfg)
    tiny_cfg.MODEL.BACKBONE.TBSI_LOC = [2]
    tiny_cfg.DATA.SEARCH.SIZE = 120
    with pytest.raises(ValueError, match="DATA.SEARCH.SIZE"):
        build_iimf(tiny_cfg)


def test_imagenet_init_resizes_position_embeddings(tiny_cfg, tmp_path, capsys):
    source = build_iimf(tiny_cfg).backbone
    deit = {k: v.clone() for k, v in source.state_dict().items() if not k.startswith(("sp_sh", "tbsi", "pos_embed"))}
    deit["pos_embed"] = torch.randn(1, 1 + 14 * 14, 96)
    deit["cls_token"] = torch.randn(1, 1, 96)
    deit["head.weight"] = torch.randn(1000, 96)
    torch.save({"model": deit}, tmp_path / "deit.pth")
    tiny_cfg.MODEL.PRETRAIN_FILE = str(tmp_path / "deit.pth")
    net = build_iimf(tiny_cfg, training=True)
    grid = deit["pos_embed"][:, 1:].reshape(1, 14, 14, 96).permute(0, 3, 1, 2)
    expected_z = torch.nn.functional.interpolate(grid, size=(4, 4), mode="bicubic", align_corners=False)
    torch.testing.assert_close(net.backbone.pos_embed_z, expected_z.flatten(2).transpose(1, 2))
    assert net.backbone.pos_embed_x.shape == (1, 64, 96)
    assert torch.equal(net.backbone.blocks[3].mlp.fc2.weight, deit["blocks.3.mlp.fc2.weight"])
    report = capsys.readouterr().out
    assert "unexpected 2" in report and "sp_sh_layer" in report


def test_sot_init_loads_the_whole_model(tiny_cfg, tmp_path):
    source = build_iimf(tiny_cfg)
    torch.save({"net": source.state_dict()}, tmp_path / "sot.pth.tar")
    tiny_cfg.MODEL.PRETRAIN_FILE = str(tmp_path / "sot.pth.tar")
    tiny_cfg.TRAIN.SOT_PRETRAIN = True
    net = build_iimf(tiny_cfg, training=True)
    assert torch.equal(net.box_head.conv5_size.bias, source.box_head.conv5_size.bias)


def test_missing_pretrained_file_names_path_and_readme(tiny_cfg):
    tiny_cfg.MODEL.PRETRAIN_FILE = "no_such_weights.pth"
    with pytest.raises(FileNotFoundError, match=r"pretrained_models/no_such_weights.pth.*README"):
        build_iimf(tiny_cfg, training=True)



def test_pretrained_file_is_looked_up_in_the_pretrained_networks_folder(tiny_cfg, tmp_path):
    from lib.models.iimf import pretrained_path
    tiny_cfg.MODEL.PRETRAIN_FILE = "weights.pth"
    (tmp_path / "weights.pth").write_bytes(b"x")
    assert pretrained_path(tiny_cfg, tmp_path) == tmp_path / "weights.pth"
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'elsewhere' / 'weights.pth'}"):
        pretrained_path(tiny_cfg, tmp_path / "elsewhere")


def test_batched_query_only_forward_equals_the_per_stream_reference(tiny_cfg):
    from lib.models.iimf.reference import reference_forward
    torch.manual_seed(1)
    net = build_iimf(tiny_cfg).eval()
    template = [torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)]
    search = [torch.randn(2, 3, 128, 128), torch.randn(2, 3, 128, 128)]
    with torch.no_grad():
        ours = net(template=template, search=search)
        reference = reference_forward(net, template, search)
    for key in OUTPUTS:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-5, rtol=1e-5)
