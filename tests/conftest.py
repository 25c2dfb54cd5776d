"""Shared test helpers: the design folder beside the repo and small configs."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IIMF_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir():
    if not (SHARED / "design").is_dir():
        pytest.skip(f"the shared design/fixtures folder is not at {SHARED} (set IIMF_SHARED_DIR)")
    return SHARED


@pytest.fixture
def tiny_cfg():
    from lib.config import load_config
    return load_config("tiny_demo")
