"""Contracts of the repository as a whole: every experiment builds with the size docs/ states, the
docs cited in code exist, nothing cites a file outside the repository, and the package's imports
point one way (lib/utils at the bottom, no cycle)."""
import ast
import re
from pathlib import Path

import pytest
import torch

from lib.config import load_config
from lib.models.iimf import build_iimf
from lib.models.iimf.checkpoint import official_dead_parameter_count

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((REPO / "experiments").rglob("*.yaml"))
SOURCES = sorted(p for folder in ("lib", "tracking", "tests") for p in (REPO / folder).rglob("*.py"))


def documented_parameter_counts():
    """{config: (ours, official)} from the table in docs/model.md#parameter-counts."""
    text = (REPO / "docs" / "model.md").read_text()
    table = text[text.index("## Parameter counts"):]
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| (\d+) \|$", table, flags=re.M)
    return {name: (int(ours), int(official)) for name, ours, official, _ in rows}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_every_experiment_builds_with_the_documented_size(path):
    cfg = load_config(str(path))
    with torch.device("meta"):
        net = build_iimf(cfg)
    ours = sum(p.numel() for p in net.parameters())
    documented = documented_parameter_counts()
    assert path.stem in documented, f"docs/model.md#parameter-counts has no row for {path.stem}"
    assert (ours, ours + official_dead_parameter_count(net)) == documented[path.stem]


def _slug(heading):
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_docs_cited_in_code_exist_and_nothing_outside_is_cited():
    cited = set()
    for path in SOURCES + [REPO / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(MODEL|METRICS|DATASETS|LAYOUT)\.md\b", text), f"{path} cites a design file"
        cited |= set(re.findall(r"docs/(\w+\.md)(?:#([\w-]+))?", text))
    assert len(cited) > 10
    for name, anchor in cited:
        doc = REPO / "docs" / name
        assert doc.is_file(), f"docs/{name} is cited but missing"
        headings = {_slug(line.lstrip("#")) for line in doc.read_text().splitlines() if line.startswith("#")}
        assert not anchor or anchor in headings, f"docs/{name}#{anchor} is cited but has no such heading"


def _lib_imports(path):
    """The lib modules ``path`` imports (module level or not), resolving relative imports."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            targets |= {f"{base}.{alias.name}" for alias in node.names} | {base}
        elif isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
    return {t for t in targets if t == "lib" or t.startswith("lib.")}


def test_imports_point_one_way():
    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (REPO / "lib").rglob("*.py")}
    graph = {}
    for module, path in files.items():
        graph[module] = set()
        for target in _lib_imports(path):
            while target not in files and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in files and target != module and not module.startswith(target + "."):
                graph[module].add(target)
    upward = [(m, t) for m, ts in graph.items() if m.startswith("lib.utils") for t in ts if not t.startswith("lib.utils")]
    assert not upward, f"lib/utils imports from above it: {upward}"
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(nxt):] + [nxt])}")
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
