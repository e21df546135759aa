"""The README's install-and-test command: CI runs exactly it, and it prints no red pip error on a fresh machine."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_test_command() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**Run the tests**"):]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    marker = next(i for i, line in enumerate(ci) if line.startswith("# --- the README's test command"))
    assert ci[marker + 1].strip() == readme_test_command()


def test_anny_is_installed_last_so_pip_never_reports_its_missing_warp_lang():
    """pip checks the requirements of installed packages that depend on what it is installing (anny depends on
    numpy, torch, pyyaml...), unless the install is --no-deps. anny is installed with --no-deps and without
    warp-lang on purpose; installed before the other packages, every later `pip install` printed the red
    'anny 0.6.2 requires warp-lang, which is not installed'. Installed last, nothing checks it."""
    steps = [s.strip() for s in readme_test_command().split("&&")]
    installs = [s for s in steps if s.startswith("pip install")]
    anny = next(i for i, s in enumerate(installs) if "anny==" in s)
    assert "--no-deps" in installs[anny]
    assert all("--no-deps" in s for s in installs[anny:]), installs
    assert installs[0] == "pip install torch==2.13.0"  # the CPU build before anything can pull a CUDA one
    assert steps[-1].startswith("QT_QPA_PLATFORM=offscreen python -m pytest")


def test_readme_says_the_red_warp_lang_message_is_expected_if_it_ever_appears():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "requires warp-lang" in text and "expected" in text
