"""Generate the man pages, docs/reference.md and the tables of docs/format.md from the code.

    python -m recops.cli.docs --write    rewrite man/*.1, docs/reference.md and the tables of docs/format.md
    python -m recops.cli.docs --check    exit 1, naming the stale files, when they differ

collect() reads every app in TOOLS into plain data; render_man() and render_reference() write it
out. format_tables() reads the dataset format from the code that reads it: the fields of
recops.json (store/config.py), the logs (logs.py), the limits, and every record type's fields
(shapes.py).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import itertools
import json
import re
import sys
from enum import Enum
from pathlib import Path

import jinja2
import typer

from .. import __version__, errors, logs, shapes, stream
from ..store import config, objects, segments
from ..store.tree import GiB, MiB
from ..video import limits as video_limits
from . import TOOLS

ROOT = Path(__file__).resolve().parents[2]
# Fixed rather than today's, so that regenerating unchanged definitions is byte-identical.
DATE = "2026-11-30"
ENV_MENTION = re.compile(r"\$([A-Z][A-Z0-9_]*)")


def _attribute_docs(body: list[ast.stmt]) -> dict[str, str]:
    """The docstring literal after each `NAME = ...`: dropped at runtime, so read from the source."""
    return {
        node.targets[0].id: " ".join(after.value.value.split())
        for node, after in itertools.pairwise(body)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }


def exit_codes() -> list[dict]:
    body = next(
        node
        for node in ast.parse(inspect.getsource(errors)).body
        if isinstance(node, ast.ClassDef) and node.name == "ExitCode"
    ).body
    meanings = _attribute_docs(body)
    return [
        {"code": int(member), "name": member.name, "meaning": meanings.get(member.name, "")}
        for member in errors.ExitCode
    ]


def _paragraphs(text: str | None) -> list[str]:
    text = inspect.cleandoc((text or "").split("\f")[0])  # click hides what follows \f from --help
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", text) if part.strip()]


def _default(param, ctx) -> str | None:
    if param.show_default is False:
        return None
    if isinstance(param.show_default, str):
        return param.show_default
    value = param.get_default(ctx, call=False)
    if getattr(param, "is_bool_flag", False) and param.secondary_opts and value:
        return param.opts[0]
    if value is None or value is False or value == [] or value == ():
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v.value if isinstance(v, Enum) else v) for v in value)
    return str(value.value if isinstance(value, Enum) else value)


def _param(param, ctx) -> dict:
    option = param.param_type_name == "option"
    flag = option and (param.is_flag or param.count)
    return {
        "kind": param.param_type_name,
        "opts": param.opts + param.secondary_opts if option else [param.human_readable_name],
        "metavar": param.make_metavar(ctx) if option and not flag else None,
        "default": _default(param, ctx),
        "envvar": [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or []),
        "required": param.required,
        "help": " ".join((param.help or "").split()),
    }


def _command(cmd, name: str, parent=None) -> dict:
    # resilient_parsing: build the context without complaining about missing required arguments.
    ctx = cmd.make_context(name, [], parent=parent, resilient_parsing=True)
    paragraphs = _paragraphs(cmd.help) or [""]
    summary = paragraphs[0]
    params = [_param(p, ctx) for p in cmd.params if not p.hidden]
    subs = [(sub, cmd.get_command(ctx, sub)) for sub in getattr(cmd, "commands", {})]
    return {
        "name": name,
        "path": ctx.command_path,
        "usage": " ".join(cmd.collect_usage_pieces(ctx)),
        "summary": summary,
        "description": paragraphs[1:],
        "arguments": [p for p in params if p["kind"] == "argument"],
        "options": [p for p in params if p["kind"] == "option"],
        "commands": [_command(sub, sub_name, ctx) for sub_name, sub in subs if not sub.hidden],
    }


def _environment(command: dict) -> list[dict]:
    found: dict[str, dict[str, list[str]]] = {}

    def note(var: str, how: str, where: str) -> None:
        places = found.setdefault(var, {"default": [], "see": []})[how]
        if where not in places:
            places.append(where)

    def walk(cmd: dict, within: str | None) -> None:
        for var in ENV_MENTION.findall(" ".join([cmd["summary"], *cmd["description"]])):
            note(var, "see", within or "DESCRIPTION")
        for param in cmd["arguments"] + cmd["options"]:
            for var in param["envvar"]:
                note(var, "default", within or ", ".join(param["opts"]))
            for var in ENV_MENTION.findall(param["help"]):
                note(var, "see", within or param["opts"][-1])
        for sub in cmd["commands"]:
            walk(sub, sub["name"])

    walk(command, None)
    return [{"name": var, **places} for var, places in sorted(found.items())]


def collect() -> dict:
    tools = [
        _command(typer.main.get_command(importlib.import_module(module).app), name) for name, module in TOOLS.items()
    ]
    for tool in tools:
        tool["environment"] = _environment(tool)
        tool["see_also"] = [other["name"] for other in tools if other is not tool]
    return {"version": __version__, "date": DATE, "exit_codes": exit_codes(), "tools": tools}


def roff(text: object) -> str:
    text = str(text).replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


_jinja = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
    autoescape=False,
)
_jinja.filters["roff"] = roff


def render_man(tool: dict, data: dict) -> str:
    return _jinja.get_template("man.1.j2").render(tool=tool, **data)


def _md(text: str) -> str:
    return re.sub(r"([\\*<|])", r"\\\1", text)


def _md_command(cmd: dict, level: str) -> list[str]:
    lines = [f"{level} {cmd['path']}", "", _md(cmd["summary"]), "", "```", f"{cmd['path']} {cmd['usage']}", "```", ""]
    for param in cmd["arguments"] + cmd["options"]:
        extra = (
            ([f"default: `{param['default']}`"] if param["default"] else [])
            + [f"env: `{var}`" for var in param["envvar"]]
            + (["required"] if param["required"] else [])
        )
        label = ", ".join(param["opts"]) + (f" {param['metavar']}" if param["metavar"] else "")
        lines.append(f"- `{label}`: {_md(param['help'])}" + (f" ({'; '.join(extra)})" if extra else ""))
    return lines + ([""] if cmd["arguments"] or cmd["options"] else [])


def render_reference(data: dict) -> str:
    lines = [
        "# Command reference",
        "",
        "<!-- generated by `make docs` from the command definitions and recops/errors.py; do not edit -->",
        "",
        "Each tool's `--help` and man page (`man man/rx-detect.1`) say the same.",
        "",
        "## Exit codes",
        "",
        _md(" ".join(inspect.getdoc(errors.ExitCode).split())),
        "",
        "| code | name | meaning |",
        "|---:|---|---|",
    ]
    lines += [f"| {c['code']} | `{c['name']}` | {_md(c['meaning'])} |" for c in data["exit_codes"]]
    lines += ["", "## Commands", ""]
    for tool in data["tools"]:
        lines += _md_command(tool, "###")
        for sub in tool["commands"]:
            lines += _md_command(sub, "####")
    return "\n".join(lines).rstrip() + "\n"


def _size(size: int) -> str:
    return f"{size // GiB} GiB" if size >= GiB else f"{size // MiB} MiB"


def _table(head: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(_md(str(cell)) for cell in row) + " |" for row in rows])


def _config_table() -> str:
    rows = []
    for field in dataclasses.fields(config.Config):
        if field.name == "format":  # a default in the class, but parse() refuses a file without it
            rows.append(("`format`", "yes", f"{config.FORMAT_VERSION}, the format this document describes", ""))
            continue
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        what = config._CHECKS[field.name][1] if field.name in config._CHECKS else "(not checked)"
        default = (
            ""
            if required
            else "made at creation"
            if field.default is dataclasses.MISSING
            else json.dumps(field.default)
        )
        rows.append((f"`{field.name}`", "yes" if required else "no", what, default))
    return _table(("field", "required", "must be", "default"), rows)


def _limits_table() -> str:
    rows = [
        ("a record in a stream (a line of JSON, a msgpack object)", _size(stream.MAX_RECORD), "stream.MAX_RECORD"),
        ("maps and lists nested in a record", f"{shapes.MAX_DEPTH} levels", "shapes.MAX_DEPTH"),
        ("numbers in a vector", f"{shapes.MAX_DIM:,}", "shapes.MAX_DIM"),
        ("a record file (segment)", _size(segments.MAX_SEGMENT), "store.segments.MAX_SEGMENT"),
        ("an object (an image's or a video's bytes)", _size(objects.MAX_OBJECT), "store.objects.MAX_OBJECT"),
        ("`recops.json`", _size(config.MAX_CONFIG), "store.config.MAX_CONFIG"),
        ("a video's duration", f"{video_limits.MAX_DURATION // 3600} hours", "video.limits.MAX_DURATION"),
        ("frames decoded from one video", f"{video_limits.MAX_FRAMES:,}", "video.limits.MAX_FRAMES"),
    ]
    return _table(("what", "at most", "in recops/"), [(what, limit, f"`{name}`") for what, limit, name in rows])


def _logs_table() -> str:
    docs = _attribute_docs(ast.parse(inspect.getsource(logs)).body)
    holds = {getattr(logs, name): doc for name, doc in docs.items()}
    return _table(("log", "holds"), [(f"`records/{name}/`", holds.get(name, "")) for name in logs.ALL])


def record_types() -> list[str]:
    """The record types whose fields shapes.py checks."""
    return list(dict.fromkeys([*shapes.REQUIRED, *shapes.OPTIONAL]))


def _record_table(kind: str) -> str:
    rows = [(f"`{name}`", "yes", what) for name, (_, what) in shapes.REQUIRED.get(kind, {}).items()]
    rows += [(f"`{name}`", "no", what) for name, (_, what) in shapes.OPTIONAL.get(kind, {}).items()]
    return _table(("field", "required", "must be"), rows)


def format_tables() -> dict[str, str]:
    """The generated parts of docs/format.md, by marker."""
    tables = {"config": _config_table(), "logs": _logs_table(), "limits": _limits_table()}
    tables.update((f"record-{kind}", _record_table(kind)) for kind in record_types())
    return tables


def _splice(text: str, marker: str, body: str, name: str) -> str:
    pattern = re.compile(rf"(<!-- {marker}:.*?-->\n).*?(<!-- /{marker} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{name} lacks the <!-- {marker}: --> ... <!-- /{marker} --> markers")
    return pattern.sub(lambda m: f"{m[1]}\n{body}\n\n{m[2]}", text, count=1)


def _render_format(text: str) -> str:
    for marker, body in format_tables().items():
        text = _splice(text, marker, body, "docs/format.md")
    unknown = sorted(set(re.findall(r"<!-- record-([\w-]+):", text)) - set(record_types()))
    if unknown:
        raise SystemExit(f"docs/format.md has tables of record types recops/shapes.py does not check: {unknown}")
    return text


def generate(root: Path = ROOT) -> dict[Path, str]:
    data = collect()
    files = {root / "man" / f"{tool['name']}.1": render_man(tool, data) for tool in data["tools"]}
    files[root / "docs" / "reference.md"] = render_reference(data)
    spec = root / "docs" / "format.md"
    files[spec] = _render_format(spec.read_text())
    return files


def _stale(root: Path, files: dict[Path, str]) -> list[Path]:
    changed = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    # Pages of tools no longer in TOOLS are stale too.
    return changed + sorted(set((root / "man").glob("*.1")) - set(files))


def check(root: Path = ROOT) -> list[str]:
    """The generated files that differ from what the command definitions give, relative to root."""
    return [str(path.relative_to(root)) for path in _stale(root, generate(root))]


def write(root: Path = ROOT) -> list[str]:
    files = generate(root)
    stale = _stale(root, files)
    for path in stale:
        if path in files:
            path.parent.mkdir(exist_ok=True)
            path.write_text(files[path])
        else:
            path.unlink()
    return [str(path.relative_to(root)) for path in stale]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recops.cli.docs", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the stale files")
    mode.add_argument("--check", action="store_true", help="exit 1 when any file is stale")
    args = parser.parse_args(argv)
    if args.write:
        for name in write():
            print(f"wrote {name}", file=sys.stderr)
        return 0
    stale = check()
    if stale:
        print(f"stale, run `make docs`: {' '.join(stale)}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
