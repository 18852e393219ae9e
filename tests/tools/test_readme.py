"""The README opens with the two commands, and CI runs the second one verbatim."""

from tests.helpers import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_commands():
    commands = _commands()
    assert len(commands) == 2
    assert all(c.startswith("python3.11 -m venv .venv && ") for c in commands)
    assert (ROOT / "README.md").read_text().splitlines()[2] == "```bash"


def test_ci_runs_the_readme_test_command():
    assert _commands()[1] in (ROOT / ".ci" / "run").read_text().splitlines()
