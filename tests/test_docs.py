"""The man pages, docs/reference.md and the tables of docs/format.md follow the code, every
command documents itself, and the docs link to what is there."""

import dataclasses
import importlib
import json
import re
import shutil

import pytest
import typer

from recops import shapes
from recops.cli import TOOLS, docs
from recops.errors import DatasetError, ExitCode
from recops.store import config
from recops.store.dataset import Dataset

REPO = docs.ROOT
FORMAT = REPO / "docs" / "format.md"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


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
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    page = tmp_path / "man" / f"{next(iter(TOOLS))}.1"
    page.write_text(page.read_text() + '.\\" edited by hand\n')
    (tmp_path / "man" / "rx-gone.1").write_text("")
    (tmp_path / "docs" / "reference.md").unlink()
    spec = tmp_path / "docs" / "format.md"
    spec.write_text(spec.read_text().replace("| `box` | yes |", "| `box` | no |"))
    assert docs.check(tmp_path) == [f"man/{page.name}", "docs/reference.md", "docs/format.md", "man/rx-gone.1"]
    docs.write(tmp_path)
    assert docs.check(tmp_path) == [] and not (tmp_path / "man" / "rx-gone.1").exists()
    assert "| `box` | yes |" in spec.read_text()


def test_a_record_type_the_format_lacks_or_no_longer_has_is_named(monkeypatch):
    monkeypatch.setitem(shapes.REQUIRED, "sighting", {"face": shapes.ID})
    with pytest.raises(SystemExit, match="record-sighting"):
        docs.generate()
    monkeypatch.delitem(shapes.REQUIRED, "sighting")
    monkeypatch.delitem(shapes.REQUIRED, "recognition")
    with pytest.raises(SystemExit, match="recognition"):
        docs.generate()


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
    reference = (REPO / "docs" / "reference.md").read_text()
    for member in ExitCode:
        assert f"| {int(member)} | `{member.name}` |" in reference
        for tool in TOOLS:
            assert f"\\fB{int(member)}\\fR ({member.name})" in (REPO / "man" / f"{tool}.1").read_text()


def test_roff_escapes_specials():
    assert docs.roff(".start") == "\\&.start"
    assert docs.roff("'quote") == "\\&'quote"
    assert docs.roff("a\\b --opt") == "a\\eb \\-\\-opt"


def test_the_format_doc_describes_this_format_and_its_history():
    text = FORMAT.read_text()
    described = re.search(r"specifies \*\*format (\d+)\*\*", text)
    assert described and int(described[1]) == config.FORMAT_VERSION, (
        "docs/format.md describes another format than FORMAT_VERSION of recops/store/config.py"
    )
    changes = text.split("\n## Changes\n", 1)[1]
    assert [int(n) for n in re.findall(r"^### Format (\d+)$", changes, re.MULTILINE)] == list(
        range(1, config.FORMAT_VERSION + 1)
    ), "docs/format.md's Changes lack a section per format"


def test_the_prose_of_the_format_names_every_field_of_its_tables():
    """A field the code checks that the prose above its table does not explain is a field nobody described."""
    fields = {
        f"record-{kind}": [*shapes.REQUIRED.get(kind, {}), *shapes.OPTIONAL.get(kind, {})]
        for kind in docs.record_types()
    }
    fields["config"] = [field.name for field in dataclasses.fields(config.Config)]
    seen = set()
    for section in re.split(r"^(?=#{2,4} )", FORMAT.read_text(), flags=re.MULTILINE):
        for marker, names in fields.items():
            if f"<!-- {marker}:" in section:
                prose = section.split(f"<!-- {marker}:")[0]
                missing = [name for name in names if f"`{name}`" not in prose]
                assert not missing, f"docs/format.md, {marker}: the prose does not name {missing}"
                seen.add(marker)
    assert seen == set(fields)


def test_a_dataset_of_another_format_is_refused_naming_both_formats_and_the_spec(tmp_path):
    root = tmp_path / "case.rx"
    Dataset.create(str(root), "dlib", "Dlib", "cosine").close()
    data = json.loads((root / "recops.json").read_text())
    data["format"] = config.FORMAT_VERSION + 1
    (root / "recops.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError) as refused:
        Dataset.open(str(root))
    message = str(refused.value)
    assert f"format {config.FORMAT_VERSION + 1}" in message and f"format {config.FORMAT_VERSION}" in message
    assert "docs/format.md" in message and FORMAT.exists()


def _anchors(page) -> set[str]:
    """The anchors GitHub gives the page's headings."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.MULTILINE)
    }


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_lead_somewhere(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):  # an address elsewhere
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        missing = not dest.exists() or not dest.is_relative_to(REPO)  # a clone holds the repository only
        if missing or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
            broken.append(target)
    assert not broken, f"{page.name} links to what is not there: {broken}"


def test_the_readme_points_to_every_page_and_holds_nothing_generated():
    readme = (REPO / "README.md").read_text()
    assert "<!--" not in readme, "generated text belongs in docs/, not in the README"
    for page in PAGES[1:]:
        assert f"(docs/{page.name})" in readme, f"the README does not point to docs/{page.name}"
