"""The README documents every command and option, and its generated sections are current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from cac_filings import docs
from cac_filings.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def commands() -> dict[str, Any]:
    """name → command object (Typer ships its own copy of click's classes)."""
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def test_every_command_and_option_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    found = commands()
    assert set(found) == {"run", "crawl", "build", "diff", "serve", "sources"}
    for name, command in found.items():
        assert f"cac-filings {name}" in readme, name
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert option in readme, f"{name} {option}"


def test_every_command_has_an_example_in_its_help() -> None:
    for name, command in commands().items():
        assert command.help and "Example: cac-filings" in command.help, name


def test_help_on_an_80_column_terminal_shows_every_option_whole() -> None:
    """Each command's --help, and the list of commands with their one-line summaries."""
    from typer.testing import CliRunner

    runner = CliRunner()
    found = commands()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert listing.exit_code == 0
    for name, command in found.items():
        assert f"  {name}  " in listing.output and command.short_help in " ".join(
            listing.output.split()), name
        done = runner.invoke(app, [name, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert done.exit_code == 0, name
        assert all(len(line) <= 80 for line in done.output.splitlines()), name
        assert "…" not in done.output and "<bool>" not in done.output, name
        for param in command.params:
            for option in (o for o in param.opts if o.startswith("-")):
                assert option in done.output.split() or f"{option}," in done.output.split(), (
                    f"{name} {option}")


def test_readme_generated_sections_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert docs.render(text) == text, "README.md is stale: run `make docs`"


def test_data_readme_names_every_release_file() -> None:
    text = (README.parent / "data" / "README.md").read_text(encoding="utf-8")
    for name in ("batches.parquet", "listings.parquet", "filings.parquet", "products.parquet",
                 "companies.parquet", "cac_filings.db", "metadata.json", "manifest.json",
                 "SHA256SUMS", "fetch_log.jsonl", "crawls/"):
        assert name in text, name
