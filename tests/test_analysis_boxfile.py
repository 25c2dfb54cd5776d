"""Reading result / GT files: accepted separators and the error for each kind of bad input."""
import numpy as np
import pytest

from lib.analysis.boxfile import AnalysisError, read_box_file


def write(tmp_path, text, name="seq.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", [
    "1,2,3,4\n5.5,6,7,8\n",
    "1\t2\t3\t4\n5.5\t6\t7\t8",
    "1 2 3 4\r\n5.5  6 7 8\r\n\r\n",
    "1, 2, 3, 4\n5.5,\t6,7 ,8\n\n",
    "1 2,3,4\n5.5;6 7,8\n",
])
def test_separators(tmp_path, text):
    boxes = read_box_file(write(tmp_path, text))
    assert boxes.dtype == np.float64
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4], [5.5, 6, 7, 8]])


def test_single_row(tmp_path):
    assert read_box_file(write(tmp_path, "1,2,3,4")).shape == (1, 4)


@pytest.mark.parametrize("text, message", [
    ("", "empty result file"),
    ("\n  \n", "empty result file"),
    ("1,2,3,4\n5,6,7\n", "row 2: 3 values, expected 4"),
    ("1,2,3,4,5\n", "row 1: 5 values, expected 4"),
    ("1,2,3,4\n1,2,3,4,5,6,7,8\n", "row 2: 8 values, looks like corner format"),
    ("1,2,3,4,5,6,7,8\n1,2,3,4,5,6,7,8\n", "row 1: 8 values, looks like corner format"),
    ("1,2,3,4\n1,2,abc,4\n", "row 2: 'abc' is not a number"),
    ("1,2,3,4\n1,2,nan,4\n", "row 2: NaN"),
    ("1,2,3,4\n1,2,3,4\n1,NaN,3,4\n", "row 3: NaN"),
    ("1,2,3,4\n1,2,inf,4\n", "row 2: infinite value"),
    ("1,2,3,4\n\n1,2,3,4\n", "row 2: blank line"),
    ("1,2,,3,4\n", "row 1: empty value"),
    ("1,2,3,4\n1,2,3,4,\n", "row 2: empty value"),
    ("1,2,3,4\n1 2,3,4 ,\n5 6,7,8\n", "row 2: empty value"),             # mixed separators, trailing comma
    ("1,2,3,4\n ; 1,2,3,4\n", "row 2: empty value"),
    ("1,2,3,4\n \t \n1,2,3,4\n", "row 2: blank line"),
    ("x,y,w,h\n1,2,3,4\n", "row 1: 'x' is not a number"),
])
def test_bad_rows_name_file_and_row(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(AnalysisError) as err:
        read_box_file(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(AnalysisError, match="result file not found"):
        read_box_file(tmp_path / "absent.txt")
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(AnalysisError, match="not a text file"):
        read_box_file(path)


def test_ground_truth_kind_in_message(tmp_path):
    with pytest.raises(AnalysisError, match="ground truth file not found"):
        read_box_file(tmp_path / "init.txt", kind="ground truth")


@pytest.mark.parametrize("text", [
    "1e1,2.0E+01,+30,4.\n.5,6e0,7.000000000000000000e+00,8\n",          # any float notation
    "10   20\t\t30 , 4\r\n0.5 6 7 8\r\n\r\n\r\n",                         # runs of spaces and tabs, CRLF
    "\ufeff10;20;30;4\n0.5;6;7;8\n  \n",                                  # BOM, semicolons, blank tail
    "10,20,30,4\r0.5,6,7,8\r",                                            # old Mac line ends
])
def test_notations_and_line_ends(tmp_path, text):
    path = tmp_path / "seq.txt"
    path.write_bytes(text.encode("utf-8"))
    np.testing.assert_array_equal(read_box_file(path), [[10, 20, 30, 4], [0.5, 6, 7, 8]])


def test_eight_value_rows_where_accepted(tmp_path):
    corners = "209.0 155.0 309.0 155.0 309.0 218.0 209.0 218.0\n1 2 3 4 5 6 7 8\n"
    boxes = read_box_file(write(tmp_path, corners), columns=(4, 8))
    assert boxes.shape == (2, 8) and boxes[0, 5] == 218
    assert read_box_file(write(tmp_path, "1,2,3,4\n5,6,7,8\n"), columns=(4, 8)).shape == (2, 4)
    with pytest.raises(AnalysisError, match=r"seq.txt, row 2: 4 values, but row 1 has 8"):
        read_box_file(write(tmp_path, "1 2 3 4 5 6 7 8\n1 2 3 4\n"), columns=(4, 8))
    with pytest.raises(AnalysisError, match=r"seq.txt, row 1: 3 values, expected 4 or 8"):
        read_box_file(write(tmp_path, "1 2 3\n"), columns=(4, 8))
