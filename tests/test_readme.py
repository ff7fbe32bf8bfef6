"""The README tells the truth about the CLI and the code: its command reference is the parser's,
every example command parses, and the layout table names every module."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bedrock_explorer.cli_parser import build_parser
from scripts import cli_reference

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
_CLI = re.compile(r"^(?:\.venv/bin/)?(?:python3? -m bedrock_explorer|bedrock-explorer)\s+(.*)$")


def example_commands() -> list[str]:
    """Every CLI call in the README's code blocks, continuation lines joined, comments and
    shell redirections dropped, ``[--optional]`` brackets opened."""
    found = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            match = _CLI.match(line.strip())
            if not match:
                continue
            words = shlex.split(match.group(1), comments=True)
            words = [w.strip("[]") for w in words]
            if ">" in words:
                words = words[: words.index(">")]
            found.append(shlex.join(words))
    return found


def test_the_command_reference_is_the_parsers() -> None:
    section = cli_reference.readme_section(README)
    assert section is not None, "README.md lost its cli-reference markers"
    assert section == cli_reference.table(), (
        "README's command reference differs from the CLI: run "
        "`python scripts/cli_reference.py --write`"
    )


def test_the_readme_shows_a_fair_number_of_examples() -> None:
    assert len(example_commands()) >= 20


@pytest.mark.parametrize("command", example_commands())
def test_every_example_in_the_readme_parses(command: str) -> None:
    try:
        build_parser().parse_args(shlex.split(command))
    except SystemExit as exit:  # argparse's way of refusing
        pytest.fail(f"README example refused by the CLI (exit {exit.code}): {command}")


def test_a_wrong_example_would_be_caught() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(shlex.split("report --group-by model --no-such-flag"))


def test_the_layout_table_names_every_module() -> None:
    layout = README[README.index("## Layout") :]
    package = ROOT / "bedrock_explorer"
    modules = [p.name for p in package.glob("*.py") if not p.name.startswith("__")]
    folders = [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()]
    missing = [m for m in modules + folders if f"{m}`" not in layout]
    assert not missing, f"README's layout table does not name: {', '.join(missing)}"
