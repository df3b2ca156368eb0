"""The dashboard's browser tests' tools: the chromium they drive (the ``browser`` fixture is in conftest.py, so
each module gets one), their screenshots, and reading a figure off a page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Page


def keep(page: Page, directory: Path, name: str) -> None:
    """A full-page screenshot in ``directory``, and in $ENCLAVE_SCREENSHOTS when set."""
    path = directory / name
    page.screenshot(path=str(path), full_page=True)
    if target := os.environ.get("ENCLAVE_SCREENSHOTS"):
        shutil.copy(path, Path(target) / name)


def figure(page: Page, name: str) -> str:
    return page.locator(f'[data-metric="{name}"]').first.get_attribute("data-value") or ""
