import os
import stat

import cv2
import numpy as np
import pytest
import torch

from lib.train.resume import atomic_torch_save
from lib.utils.io import (
    BoxFileError,
    ImageNotFoundError,
    ImageReadError,
    atomic_write,
    read_boxes,
    read_image,
)


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- atomic_write
def test_atomic_write_text_bytes_callable(tmp_path):
    p = tmp_path / "sub dir" / "a.txt"
    atomic_write(p, "héllo\r\n")
    assert p.read_bytes() == "héllo\r\n".encode("utf-8")
    atomic_write(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    atomic_write(p, lambda f: f.write(b"streamed"))
    assert p.read_bytes() == b"streamed"
    assert _leftovers(p.parent) == []
    # normal permissions, not mkstemp's 0600
    mode = stat.S_IMODE(os.stat(p).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_atomic_write_failure_keeps_old_content_and_leaves_no_temp(tmp_path):
    p = tmp_path / "result.txt"
    p.write_text("old")

    def writer(f):
        f.write(b"half of the new")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(p, writer)
    assert p.read_text() == "old"
    assert _leftovers(tmp_path) == []

    q = tmp_path / "new.txt"
    with pytest.raises(RuntimeError):
        atomic_write(q, writer)
    assert not q.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["result.txt"]


def test_atomic_write_rejects_other_types(tmp_path):
    with pytest.raises(TypeError, match="bad.txt"):
        atomic_write(tmp_path / "bad.txt", 12)
    assert list(tmp_path.iterdir()) == []


def test_atomic_torch_save_roundtrip_and_failure(tmp_path):
    p = tmp_path / "ck.pth.tar"
    atomic_torch_save({"net": {"w": torch.arange(3.0)}, "epoch": 2}, p)
    d = torch.load(p, weights_only=True)
    assert d["epoch"] == 2 and torch.equal(d["net"]["w"], torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(Exception):
        atomic_torch_save({"f": lambda x: x}, p)  # lambdas cannot be pickled
    assert torch.load(p, weights_only=True)["epoch"] == 2
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------- read_image
def test_read_image_rgb_order_and_grey(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR
    bgr[0, 0] = (10, 20, 30)
    p = tmp_path / "it's a `frame` 1.png"
    cv2.imwrite(str(tmp_path / "x.png"), bgr)
    os.replace(tmp_path / "x.png", p)
    im = read_image(p)
    assert im.shape == (4, 5, 3) and im.dtype == np.uint8
    assert im[1, 1].tolist() == [200, 0, 0]
    assert im[0, 0].tolist() == [30, 20, 10]

    g = tmp_path / "g.png"
    cv2.imwrite(str(g), np.arange(20, dtype=np.uint8).reshape(4, 5))
    im = read_image(g)
    assert im.shape == (4, 5, 3)
    assert (im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all()
    assert im[0, 3, 0] == 3


def test_read_image_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(FileNotFoundError, match="nope.jpg") as e:
        read_image(missing)
    assert isinstance(e.value, ImageNotFoundError) and isinstance(e.value, ImageReadError)

    bad = tmp_path / "damaged.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg at all")
    with pytest.raises(ImageReadError, match="damaged.jpg"):
        read_image(bad)

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg.*empty"):
        read_image(empty)


# ---------------------------------------------------------------- read_boxes
def test_read_boxes_separators_crlf_bom(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_bytes("\ufeff1,2,3,4\r\n5\t6\t7\t8\r\n9 10  11 12\r\n0.5, 1.5 ,2,\t3\r\n\r\n\n".encode("utf-8"))
    b = read_boxes(p)
    assert b.dtype == np.float64 and b.shape == (4, 4)
    assert b.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [0.5, 1.5, 2, 3]]


def test_read_boxes_empty_and_ncols(tmp_path):
    p = tmp_path / "e.txt"
    p.write_text("")
    assert read_boxes(p).shape == (0, 4)
    q = tmp_path / "absence.label"
    q.write_text("0\n1\n0\n")
    assert read_boxes(q, ncols=1)[:, 0].tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("1,2,3,4\n1,NaN,3,4\n", r"gt\.txt, row 2: NaN"),
        ("1,2,3,4\n1,2,3,4\n1,2,inf,4\n", r"gt\.txt, row 3: infinite value"),
        ("1,2,3,4\n1,2,x,4\n", r"gt\.txt, row 2: 'x' is not a number"),
        ("1,2,3\n", r"gt\.txt, row 1: 3 values, expected 4"),
        ("1,2,3,4,5,6,7,8\n", r"row 1: 8 values, looks like corner"),
        ("1,2,3,4\n\n1,2,3,4\n", r"gt\.txt, row 2: blank line"),
    ],
)
def test_read_boxes_errors(tmp_path, text, pattern):
    p = tmp_path / "gt.txt"
    p.write_text(text)
    with pytest.raises(BoxFileError, match=pattern):
        read_boxes(p)


def test_read_boxes_allow_nan_and_missing(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("1,nan,3,4\n")
    assert np.isnan(read_boxes(p, allow_nan=True)[0, 1])
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_boxes(tmp_path / "missing.txt")
