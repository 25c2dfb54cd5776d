"""Config loading: defaults, seed values, unknown and inert keys."""
import pytest

from lib.config import load_config


def test_seed_configs_hold_the_official_values():
    sot = load_config("vitb_256_tbsi_32x1_1e4_lasher_15ep_sot")
    in1k = load_config("vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k")
    assert sot.MODEL.BACKBONE.TBSI_LOC == [3] and in1k.MODEL.BACKBONE.TBSI_LOC == [3, 7, 11]
    assert (sot.TRAIN.LR, sot.TRAIN.BATCH_SIZE, sot.TRAIN.EPOCH, sot.TEST.EPOCH) == (1e-4, 32, 30, 15)
    assert (in1k.TRAIN.LR, in1k.TRAIN.BATCH_SIZE, in1k.TRAIN.EPOCH) == (4e-4, 16, 15)
    assert in1k.TEST.EPOCH <= in1k.TRAIN.EPOCH  # the original tests epoch 30 of 15
    assert sot.TRAIN.SOT_PRETRAIN and not in1k.TRAIN.SOT_PRETRAIN
    assert sot.DATA.MEAN == [0.485, 0.456, 0.406, 0.449, 0.449, 0.449]
    assert sot.DATA.SEARCH.SIZE == 256 and sot.DATA.TEMPLATE.SIZE == 128


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("TRAIN:\n  SCHEDULER:\n    TYPO: 1\n")
    with pytest.raises(ValueError) as err:
        load_config(str(path))
    assert "TRAIN.SCHEDULER.TYPO" in str(err.value) and str(path) in str(err.value)


def test_mapping_expected(tmp_path):
    path = tmp_path / "flat.yaml"
    path.write_text("MODEL: 3\n")
    with pytest.raises(ValueError, match="'MODEL' must be a mapping"):
        load_config(str(path))


def test_inert_keys_load_with_one_warning(tmp_path, capsys):
    path = tmp_path / "inert.yaml"
    path.write_text("TRAIN:\n  F2_WEIGHT: 0.5\n  LR: 0.01\n")
    cfg = load_config(str(path))
    cfg_again = load_config(str(path))
    err = capsys.readouterr().err
    assert err.count("TRAIN.F2_WEIGHT") == 1 and "no effect" in err
    assert cfg.TRAIN.LR == 0.01 and cfg_again.TRAIN.F2_WEIGHT == 0.5


def test_missing_config_lists_available():
    with pytest.raises(FileNotFoundError, match="tiny_demo"):
        load_config("no_such_config")


def test_defaults_are_not_shared_between_loads():
    a = load_config()
    a.MODEL.BACKBONE.TBSI_LOC.append(5)
    assert load_config().MODEL.BACKBONE.TBSI_LOC == []


@pytest.mark.parametrize("text, message", [
    ("TRAIN:\n  LR: fast\n", "'TRAIN.LR' expects a number, got 'fast'"),
    ("TRAIN:\n  AMP: 1\n", "'TRAIN.AMP' expects true or false"),
    ("MODEL:\n  BACKBONE:\n    TBSI_LOC: 3\n", "'MODEL.BACKBONE.TBSI_LOC' expects a list"),
])
def test_wrong_value_types_name_key_and_file(tmp_path, text, message):
    path = tmp_path / "types.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_config(str(path))
    assert message in str(err.value) and str(path) in str(err.value)


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text("TRAIN:\n  LR: 1e-4\n")
    assert load_config(str(path)).TRAIN.LR == 1e-4
