"""Generate the man pages and the README's command reference from the command definitions.

    python -m recops.cli.docs --write    rewrite man/*.1 and the generated sections of README.md
    python -m recops.cli.docs --check    exit 1, naming the stale files, when they differ

collect() reads every app in TOOLS into plain data; render_man() and render_markdown() write it out.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import sys
from enum import Enum
from pathlib import Path

import jinja2
import typer

from .. import __version__, errors
from . import TOOLS

ROOT = Path(__file__).resolve().parents[2]
# Fixed rather than today's, so that regenerating unchanged definitions is byte-identical.
DATE = "2026-11-30"
ENV_MENTION = re.compile(r"\$([A-Z][A-Z0-9_]*)")


def exit_codes() -> list[dict]:
    # The docstring literal after each member is dropped at runtime; only the source has it.
    body = next(node for node in ast.parse(inspect.getsource(errors)).body
                if isinstance(node, ast.ClassDef) and node.name == "ExitCode").body
    meanings = {node.targets[0].id: " ".join(after.value.value.split())
                for node, after in zip(body, body[1:])
                if isinstance(node, ast.Assign) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)}
    return [{"code": int(member), "name": member.name, "meaning": meanings.get(member.name, "")}
            for member in errors.ExitCode]


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
    tools = [_command(typer.main.get_command(importlib.import_module(module).app), name)
             for name, module in TOOLS.items()]
    for tool in tools:
        tool["environment"] = _environment(tool)
        tool["see_also"] = [other["name"] for other in tools if other is not tool]
    return {"version": __version__, "date": DATE, "exit_codes": exit_codes(), "tools": tools}


def roff(text: object) -> str:
    text = str(text).replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


_jinja = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
                            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                            undefined=jinja2.StrictUndefined, autoescape=False)
_jinja.filters["roff"] = roff


def render_man(tool: dict, data: dict) -> str:
    return _jinja.get_template("man.1.j2").render(tool=tool, **data)


def _md(text: str) -> str:
    return re.sub(r"([\\*<|])", r"\\\1", text)


def _md_command(cmd: dict, level: str) -> list[str]:
    lines = [f"{level} {cmd['path']}", "", _md(cmd["summary"]), "", "```", f"{cmd['path']} {cmd['usage']}", "```", ""]
    for param in cmd["arguments"] + cmd["options"]:
        extra = ([f"default: `{param['default']}`"] if param["default"] else []) + \
                [f"env: `{var}`" for var in param["envvar"]] + (["required"] if param["required"] else [])
        label = ", ".join(param["opts"]) + (f" {param['metavar']}" if param["metavar"] else "")
        lines.append(f"- `{label}`: {_md(param['help'])}" + (f" ({'; '.join(extra)})" if extra else ""))
    return lines + ([""] if cmd["arguments"] or cmd["options"] else [])


def render_markdown(data: dict) -> dict[str, str]:
    codes = ["| code | name | meaning |", "|---:|---|---|"] + [
        f"| {c['code']} | `{c['name']}` | {_md(c['meaning'])} |" for c in data["exit_codes"]]
    reference = []
    for tool in data["tools"]:
        reference += _md_command(tool, "###")
        for sub in tool["commands"]:
            reference += _md_command(sub, "####")
    return {"exit-codes": "\n".join(codes), "reference": "\n".join(reference).strip()}


def _splice(readme: str, marker: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {marker}:.*?-->\n).*?(<!-- /{marker} -->)", re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md lacks the <!-- {marker}: --> ... <!-- /{marker} --> markers")
    return pattern.sub(lambda m: f"{m[1]}\n{body}\n\n{m[2]}", readme, count=1)


def generate(root: Path = ROOT) -> dict[Path, str]:
    data = collect()
    files = {root / "man" / f"{tool['name']}.1": render_man(tool, data) for tool in data["tools"]}
    readme = (root / "README.md").read_text()
    for marker, body in render_markdown(data).items():
        readme = _splice(readme, marker, body)
    files[root / "README.md"] = readme
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
