"""Result folders as published: the file-name pattern around the sequence names, detected or given."""
import pytest

from lib.analysis.boxfile import AnalysisError
from lib.analysis.resultfolder import FilePattern, locate_results

SEQS = ["BusScale", "BusScale1", "Motorbike", "OccCar-1", "tunnel"]      # names that contain other names


def folder_with(tmp_path, names, sub="res"):
    folder = tmp_path / sub
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("1,2,3,4\n")
    return folder


@pytest.mark.parametrize("prefix, suffix", [("", ""), ("SCA_", ""), ("JMMAC_234_final_", ""), ("", "_result"),
                                            ("our_", "-v2"), ("BusScale_", "")])
def test_pattern_is_detected(tmp_path, prefix, suffix):
    folder = folder_with(tmp_path, [f"{prefix}{s}{suffix}.txt" for s in SEQS])
    found = locate_results(folder, SEQS, "gtot")
    assert found.pattern == FilePattern(prefix, suffix)
    assert found.detected == bool(prefix or suffix)
    assert [p.name for p in found.files] == [f"{prefix}{s}{suffix}.txt" for s in SEQS]


def test_time_files_and_other_files_beside_the_results_are_ignored(tmp_path):
    names = [f"our_{s}.txt" for s in SEQS] + [f"our_{s}_time.txt" for s in SEQS] + ["readme.md", "our_extra.txt"]
    found = locate_results(folder_with(tmp_path, names), SEQS, "gtot")
    assert found.pattern == FilePattern("our_", "")


def test_extra_sequences_of_a_larger_split_are_fine(tmp_path):
    folder = folder_with(tmp_path, [f"{s}.txt" for s in SEQS + ["trainingseq1", "trainingseq2"]])
    assert len(locate_results(folder, SEQS, "lasher_test").files) == len(SEQS)


def test_given_prefix_and_suffix(tmp_path):
    folder = folder_with(tmp_path, [f"A_{s}.txt" for s in SEQS] + [f"B_{s}_x.txt" for s in SEQS])
    assert locate_results(folder, SEQS, "gtot", prefix="A_").pattern == FilePattern("A_", "")
    found = locate_results(folder, SEQS, "gtot", prefix="B_", suffix="_x.txt")
    assert found.pattern == FilePattern("B_", "_x") and not found.detected
    with pytest.raises(AnalysisError, match=r"C_BusScale.txt: result file not found \(5 of 5|no result file"):
        locate_results(folder, SEQS, "gtot", prefix="C_")


def test_two_candidate_prefixes_are_an_error(tmp_path):
    folder = folder_with(tmp_path, [f"A_{s}.txt" for s in SEQS] + [f"B_{s}.txt" for s in SEQS])
    with pytest.raises(AnalysisError) as err:
        locate_results(folder, SEQS, "gtot")
    message = str(err.value)
    assert str(folder) in message and "'A_<seq>.txt' and 'B_<seq>.txt'" in message
    assert "NAME=DIR:PREFIX" in message and "\n" not in message


def test_a_folder_of_another_dataset_names_expected_and_found_files(tmp_path):
    folder = folder_with(tmp_path, ["10runone.txt", "11leftboy.txt", "1blackteacher.txt"])
    with pytest.raises(AnalysisError) as err:
        locate_results(folder, SEQS, "gtot")
    message = str(err.value)
    assert "no result file for any of the 5 gtot sequences" in message
    assert "'BusScale.txt'" in message and "'10runone.txt'" in message and "found 3 .txt files" in message


def test_a_missing_file_is_named_with_the_others(tmp_path):
    folder = folder_with(tmp_path, [f"SCA_{s}.txt" for s in SEQS if s != "OccCar-1"])
    with pytest.raises(AnalysisError) as err:
        locate_results(folder, SEQS, "gtot")
    assert str(err.value).startswith(f"{folder / 'SCA_OccCar-1.txt'}: result file not found (1 of 5 gtot")


def test_an_empty_folder(tmp_path):
    with pytest.raises(AnalysisError, match="found no .txt files"):
        locate_results(folder_with(tmp_path, []), SEQS, "gtot")


def test_a_folder_above_the_results_gets_a_hint(tmp_path):
    inner = folder_with(tmp_path, [f"SCA_{s}.txt" for s in SEQS], sub="results_raw.zip/results_raw/GTOT")
    folder_with(tmp_path, ["ADRNet_afterrain.txt"], sub="results_raw.zip/results_raw/RGBT234")
    with pytest.raises(AnalysisError, match=f"the gtot files seem to be in {inner}: pass that folder"):
        locate_results(tmp_path / "results_raw.zip", SEQS, "gtot")
