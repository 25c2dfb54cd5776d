"""Shared test helpers: small configs."""
import pytest


@pytest.fixture
def tiny_cfg():
    from lib.config import load_config
    return load_config("tiny_demo")
