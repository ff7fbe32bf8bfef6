"""The README's command reference, generated from the CLI's parser.

``python scripts/cli_reference.py --write`` rewrites the table between the
``<!-- cli-reference -->`` markers of README.md; ``tests/test_readme.py`` fails when the README
and the parser disagree (a command or option in one and not the other).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer.cli_parser import build_parser  # noqa: E402

START, END = "<!-- cli-reference -->", "<!-- /cli-reference -->"


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable command: (its words, its parser), in the order ``--help`` lists them."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from commands(child, (*path, name))


def _option(action: argparse.Action) -> str:
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return f"`{flag}`"
    metavar = action.metavar or (action.dest.upper() if not action.choices else None)
    value = metavar if metavar else "/".join(str(c) for c in action.choices or ())
    return f"`{flag} {value}`"


def _positional(action: argparse.Action) -> str:
    name = str(action.metavar or action.dest.upper())
    return {"+": f"{name}…", "*": f"[{name}…]", "?": f"[{name}]"}.get(str(action.nargs), name)


def table() -> str:
    """The reference as a Markdown table: command, arguments, options."""
    rows = ["| command | options |", "| --- | --- |"]
    top = build_parser()
    shared = [_option(a) for a in top._actions if a.option_strings and a.dest not in ("help",)]
    rows.append(f"| *(before any command)* | {', '.join(shared)} |")
    for path, parser in commands(top):
        positionals = [
            _positional(a) for a in parser._actions if not a.option_strings and a.dest != "help"
        ]
        options = [
            _option(a)
            for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)
        ]
        words = " ".join([*path, *positionals])
        rows.append(f"| `{words}` | {', '.join(options) or '—'} |")
    return "\n".join(rows)


_SECTION = re.compile(re.escape(START) + r"\n?(.*?)\n?" + re.escape(END), re.S)


def readme_section(text: str) -> str | None:
    """The table between the markers (``None`` when the markers are missing)."""
    found = _SECTION.search(text)
    return found.group(1) if found else None


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if "--write" in sys.argv:
        if readme_section(text) is None:
            print(f"README.md has no {START} … {END} markers", file=sys.stderr)
            return 1
        fresh = f"{START}\n{table()}\n{END}"
        readme.write_text(_SECTION.sub(lambda _m: fresh, text, count=1))
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
