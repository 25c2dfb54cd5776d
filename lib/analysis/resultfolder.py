"""Finding each sequence's result file in a folder as it was published: ``<prefix><seq><suffix>.txt``.

Published folders name their files ``<seq>.txt``, ``<tracker>_<seq>.txt`` (``SCA_BlackCar.txt``,
``JMMAC_234_final_afterrain.txt``) or with a suffix. The pattern is detected from the folder: every
(prefix, suffix) around a few probe sequence names is a candidate, and the candidate that names a
file for every sequence wins. ``<seq>_time.txt`` files (pytracking's per-frame times) are not
results. Two complete candidates are an error (say the prefix); a folder matching no sequence says
which names were expected and which were found.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from lib.analysis.boxfile import AnalysisError

TIME_SUFFIX = "_time"         # pytracking writes <seq>_time.txt beside <seq>.txt
_PROBES = 3                   # sequence names (the longest) used to find candidate patterns
_SHOWN = 4                    # names quoted in an error message


@dataclass(frozen=True)
class FilePattern:
    prefix: str = ""
    suffix: str = ""

    def file_name(self, seq):
        return f"{self.prefix}{seq}{self.suffix}.txt"

    def __str__(self):
        return self.file_name("<seq>")


@dataclass
class ResultFolder:
    path: Path
    pattern: FilePattern
    detected: bool            # the pattern has a prefix or suffix the user did not give
    files: list               # one path per sequence, in benchmark order


def parse_results_entry(entry):
    """``[NAME=]DIR[:PREFIX]`` as (name or None, folder, prefix or None); a folder whose own name holds
    '=' or ':' is taken whole."""
    name = None
    if "=" in entry and not Path(entry).is_dir():
        name, _, entry = entry.partition("=")
    folder, prefix = Path(entry), None
    if ":" in entry and not folder.is_dir():
        head, _, prefix = entry.rpartition(":")
        folder = Path(head)
    return name, folder, prefix


def locate_results(folder, seq_names, dataset, prefix=None, suffix=None):
    """The result file of every sequence in ``folder``; ``prefix``/``suffix`` None: detect them."""
    folder = Path(folder)
    stems = _text_file_stems(folder)
    if prefix is not None or suffix is not None:
        pattern, detected = FilePattern(prefix or "", _strip_txt(suffix or "")), False
    else:
        pattern = _detect_pattern(folder, stems, seq_names, dataset)
        detected = pattern != FilePattern()
    missing = [seq for seq in seq_names if pattern.file_name(seq)[:-4] not in stems]
    if missing:
        raise AnalysisError(_missing_message(folder, pattern, missing, seq_names, dataset, stems))
    return ResultFolder(folder, pattern, detected, [folder / pattern.file_name(seq) for seq in seq_names])


def _text_file_stems(folder):
    return {name[:-4] for name in os.listdir(folder) if name.endswith(".txt")}


def _strip_txt(suffix):
    return suffix[:-4] if suffix.endswith(".txt") else suffix


def _detect_pattern(folder, stems, seq_names, dataset):
    coverage = {pattern: _count_present(pattern, stems, seq_names) for pattern in _candidates(stems, seq_names)}
    complete = sorted((p for p, count in coverage.items() if count == len(seq_names)), key=str)
    if len(complete) > 1:
        listed = " and ".join(f"'{p}'" for p in complete[:2])
        raise AnalysisError(f"{folder}: two candidate file patterns, {listed}, each with a file for all "
                            f"{len(seq_names)} {dataset} sequences; say which with NAME=DIR:PREFIX or "
                            f"--results_prefix / --results_suffix")
    if complete:
        return complete[0]
    best = max(coverage, key=lambda p: (coverage[p], p == FilePattern()), default=FilePattern())
    return best if coverage.get(best) else FilePattern()


def _candidates(stems, seq_names):
    """Every (prefix, suffix) around an occurrence of a probe sequence name in a file name."""
    probes = sorted(seq_names, key=len, reverse=True)[:_PROBES]
    found = set()
    for stem in stems:
        for probe in probes:
            start = stem.find(probe)
            while start >= 0:
                pattern = FilePattern(stem[:start], stem[start + len(probe):])
                if pattern.suffix != TIME_SUFFIX:
                    found.add(pattern)
                start = stem.find(probe, start + 1)
    return found


def _count_present(pattern, stems, seq_names):
    return sum(pattern.file_name(seq)[:-4] in stems for seq in seq_names)


def _missing_message(folder, pattern, missing, seq_names, dataset, stems):
    found = sorted(stems)
    found_text = (f"found {len(found)} .txt files: {_quoted(f + '.txt' for f in found)}" if found
                  else "found no .txt files")
    if len(missing) == len(seq_names):
        nested = _nested_results(folder, seq_names)
        hint = (f"the {dataset} files seem to be in {nested}: pass that folder" if nested else
                "a folder of another dataset, or a prefix to give with NAME=DIR:PREFIX?")
        return (f"{folder}: no result file for any of the {len(seq_names)} {dataset} sequences; expected "
                f"{pattern} names such as {_quoted(pattern.file_name(s) for s in seq_names)}; {found_text} "
                f"({hint})")
    return (f"{folder / pattern.file_name(missing[0])}: result file not found ({len(missing)} of "
            f"{len(seq_names)} {dataset} sequences have no {pattern} file in {folder}: "
            f"{_quoted(missing)}; {found_text})")


def _nested_results(folder, seq_names, depth=2):
    """The first sub-folder (up to ``depth`` levels down) with a file named after the longest sequence."""
    probe = max(seq_names, key=len)
    level = [folder]
    for _ in range(depth):
        level = sorted(sub for parent in level for sub in parent.iterdir() if sub.is_dir())
        for sub in level:
            if any(probe in stem for stem in _text_file_stems(sub)):
                return sub
    return None


def _quoted(names):
    names = list(names)
    shown = ", ".join(f"'{n}'" for n in names[:_SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _SHOWN else "")
