"""The documentation: docs/python.md's examples run, the site builds with --strict, README's links resolve."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT

DOCS = ROOT / "docs"


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def test_the_python_page_runs_as_written(tmp_path, monkeypatch):
    """Every ```python block of docs/python.md, in order, in one namespace, in an empty folder."""
    blocks = python_blocks(DOCS / "python.md")
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/python.md block {i + 1}", "exec"), namespace)
    assert (tmp_path / "translation.png").is_file() and (tmp_path / "runs" / "cartoon" / "run.json").is_file()


def test_readme_links_point_at_pages_and_pictures_that_exist():
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(((?:docs/)[^)#]+)(?:#[^)]*)?\)", text)
    assert len(targets) > 10
    for target in targets:
        assert (ROOT / target).exists(), target
    assert len(text.splitlines()) < 200  # README stays short; the rest lives in docs/


def test_the_site_builds_strictly(tmp_path):
    """mkdocs --strict: a broken link, a missing page or an API reference that does not resolve fails."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "freezeg finetune" in cli and "--freeze-g" in cli  # the generated reference is in the page
    shutil.rmtree(tmp_path / "site")
