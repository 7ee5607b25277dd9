"""The man pages and the README's reference follow the command definitions, and every command documents itself."""

import importlib
import shutil

import pytest
import typer

from recops.cli import TOOLS, docs
from recops.errors import ExitCode

REPO = docs.ROOT


def _commands():
    # Walked from typer directly, not through docs.collect(), so a bug there cannot hide a gap here.
    for tool, module in TOOLS.items():
        command = typer.main.get_command(importlib.import_module(module).app)
        yield tool, tool, command
        for name, sub in getattr(command, "commands", {}).items():
            yield tool, f"{tool} {name}", sub


COMMANDS = list(_commands())


@pytest.mark.parametrize("tool,label,command", COMMANDS, ids=[label for _, label, _ in COMMANDS])
def test_every_command_and_parameter_has_help(tool, label, command):
    assert (command.help or "").strip(), f"{label} has no docstring"
    undocumented = [p.opts[0] for p in command.params if not (p.help or "").strip()]
    assert not undocumented, f"{label}: no help for {undocumented}"


def test_generated_docs_are_current():
    stale = docs.check()
    assert not stale, f"stale: {stale}; run `make docs`"


def test_check_names_a_stale_page(tmp_path):
    shutil.copytree(REPO / "man", tmp_path / "man")
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    page = tmp_path / "man" / f"{next(iter(TOOLS))}.1"
    page.write_text(page.read_text() + ".\\\" edited by hand\n")
    (tmp_path / "man" / "rx-gone.1").write_text("")
    assert docs.check(tmp_path) == [f"man/{page.name}", "man/rx-gone.1"]
    docs.write(tmp_path)
    assert docs.check(tmp_path) == [] and not (tmp_path / "man" / "rx-gone.1").exists()


def test_scripts_are_exactly_the_tools():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {name: f"{module}:main" for name, module in TOOLS.items()}


@pytest.mark.parametrize("tool,label,command", COMMANDS, ids=[label for _, label, _ in COMMANDS])
def test_man_page_mentions_every_option(tool, label, command):
    page = (REPO / "man" / f"{tool}.1").read_text()
    spellings = [s for p in command.params if p.param_type_name == "option" for s in p.opts + p.secondary_opts]
    missing = [s for s in spellings if f"\\fB{s.replace('-', chr(92) + '-')}\\fR" not in page]
    assert not missing, f"man/{tool}.1 lacks {missing}"


def test_exit_code_table_lists_every_member():
    codes = docs.exit_codes()
    assert [(c["code"], c["name"]) for c in codes] == [(int(m), m.name) for m in ExitCode]
    assert next(c for c in codes if c["name"] == "FAILED")["meaning"].startswith("Some inputs failed")
    table = docs.render_markdown(docs.collect())["exit-codes"]
    readme = (REPO / "README.md").read_text()
    for member in ExitCode:
        assert f"| {int(member)} | `{member.name}` |" in table
        assert f"| {int(member)} | `{member.name}` |" in readme
        for tool in TOOLS:
            assert f"\\fB{int(member)}\\fR ({member.name})" in (REPO / "man" / f"{tool}.1").read_text()


def test_roff_escapes_specials():
    assert docs.roff(".start") == "\\&.start"
    assert docs.roff("'quote") == "\\&'quote"
    assert docs.roff("a\\b --opt") == "a\\eb \\-\\-opt"
