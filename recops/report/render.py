"""Report variables to text: the bundled jinja2 templates, a user's template (sandboxed), JSON.

Autoescaping is always on: every name, path and description from outside reaches the page as
text, never as markup.
"""

from __future__ import annotations

import json
import os

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from ..errors import UsageError

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates", "report")


def _bundled(kind: str) -> jinja2.Template:
    # StrictUndefined: a variable the builder forgot is a bug to see, not a blank in the page.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return env.get_template(f"{kind}.html.j2")


def render_html(variables: dict, template: str | None = None) -> str:
    """The page: the bundled template of the report's kind, or the user's `template` file.

    A user's template runs sandboxed (it reads the variables and cannot reach into Python) and may
    extend layout.html.j2 or import macros.html.j2 from the bundled ones."""
    if template is None:
        return _bundled(variables["kind"]).render(variables)
    env = _user_env(template)
    try:
        return env.get_template(os.path.basename(template)).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"--template {template}, line {exc.lineno}: {exc.message}") from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise UsageError(f"--template {template}: {type(exc).__name__}: {exc}") from None


def _user_env(template: str) -> SandboxedEnvironment:
    folder = os.path.dirname(os.path.abspath(template))
    return SandboxedEnvironment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder), jinja2.FileSystemLoader(TEMPLATES)]),
        autoescape=True,
    )


def reads(template: str, names: tuple[str, ...]) -> bool:
    """Whether the user's `template` reads any of `names` (it, not what it includes); a template
    that does not parse says so when rendered."""
    env = _user_env(template)
    try:
        source = env.loader.get_source(env, os.path.basename(template))[0]
        return bool(meta.find_undeclared_variables(env.parse(source)) & set(names))
    except jinja2.TemplateError:
        return False


def render_json(variables: dict) -> str:
    return json.dumps(variables, indent=2, ensure_ascii=False) + "\n"
