"""README's configuration reference is the one generated from the typed config."""

from __future__ import annotations

from pathlib import Path

from serve_app.ops.config_doc import BEGIN, END, render

ROOT = Path(__file__).resolve().parents[4]


def test_readme_config_reference_is_up_to_date() -> None:
    readme = (ROOT / "README.md").read_text()
    current = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert current == render(), "run: .venv/bin/python -m serve_app.ops.config_doc --write README.md"


def test_every_config_field_is_documented() -> None:
    table = [line for line in render().splitlines() if line.startswith("| `")]
    assert table and all(line.split(" | ")[-1].strip(" |") for line in table)
