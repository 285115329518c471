"""The README is the front door: it must document every command this build offers."""

from pathlib import Path

from commands.catalog import build_registry

ROOT = Path(__file__).resolve().parent.parent


def test_every_command_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    first_cells = [line.split("|")[1] for line in readme.splitlines() if line.startswith("| `/")]
    usages = [span for cell in first_cells for span in cell.split("`")[1::2] if span.startswith("/")]
    documented = {_command_path(usage) for usage in usages}
    offered = {f"/{spec.path}" for spec in build_registry()}
    assert offered == documented


def test_the_readme_marks_the_setup_and_test_commands_for_ci():
    readme = (ROOT / "README.md").read_text()
    for marker in ("<!-- ci:setup -->", "<!-- ci:test -->"):
        block = readme.split(marker, 1)[1].split("```", 2)[1]
        assert block.startswith("sh\n") and "python3 -m venv .venv" in block


def _command_path(usage: str) -> str:
    """`/release new PROJECT` → `/release new`; `/help [COMMAND]` → `/help`."""
    words = usage.split()
    if len(words) > 1 and words[1].isalpha() and words[1].islower():
        return f"{words[0]} {words[1]}"
    return words[0]
