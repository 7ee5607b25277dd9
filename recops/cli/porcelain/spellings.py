"""The original recops's spellings of boolean options, read as today's flags.

The original declared --consent and --identified-faces with `default=False`, so click took them
as boolean options with a value (`--consent True`); today they are flags (`--consent`,
`--no-consent`). Its scripts keep working: the command line is rewritten before click reads it.
"""

from __future__ import annotations

import typer
import typer.core

# click's spellings of a boolean, as the original's click read them (case and spaces ignored).
WORDS = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "on"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "off"), False),
}
# option: (its spelling when true, when false); None: false is the default, and the option goes.
BOOLEANS: dict[str, tuple[str, str | None]] = {
    "--consent": ("--consent", "--no-consent"),
    "--identified-faces": ("--identified-faces", None),
}


def truth(word: str) -> bool | None:
    return WORDS.get(word.strip().lower())


def todays(args: list[str]) -> list[str]:
    """`args` with every `--consent True`, `--consent=no`, `--identified-faces 1` ... spelt as
    today's flags; anything else, and all after `--`, as it came."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return out + args[i:]
        name, equals, value = arg.partition("=")
        if name in BOOLEANS and not equals and i + 1 < len(args) and truth(args[i + 1]) is not None:
            value, step = args[i + 1], 2
        elif name in BOOLEANS and equals and truth(value) is not None:
            step = 1
        else:
            out.append(arg)
            i += 1
            continue
        spelling = BOOLEANS[name][0 if truth(value) else 1]
        if spelling:
            out.append(spelling)
        i += step
    return out


class OriginalSpellings(typer.core.TyperGroup):
    """The porcelain's group: reads the original's boolean spellings before the command's options,
    and, given nothing, shows its help and succeeds, as the original's click group did."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            typer.echo(ctx.get_help())
            ctx.exit(0)
        return super().parse_args(ctx, todays(args))
