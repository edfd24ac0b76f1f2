"""Every shell command in the README runs, as a user would type it, from the project directory.

A command marked `# needs: <what>` needs the Pulumi CLI, a cloud or a deployed stack, and is
skipped with that reason; `# exits N` says the exit code the README promises. An install is
checked, not applied (the suite never changes the environment it runs in, and CI's `.ci/run`
performs the same install): it must be `pip install -e ".[<extras>]"` of extras pyproject.toml
declares. The test suite's own command and `npm ci` (which would replace the emulators the
suite is using) are not run from inside the suite; CI runs them (.ci/run).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def commands() -> list[tuple[str, str | None, int]]:
    """(command, reason to skip or None, expected exit code) for each line of each bash block."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            needs = re.search(r"#\s*needs:\s*(.+)$", line)
            exits = re.search(r"#\s*exits (\d+)", line)
            command = line.split(" #")[0].strip()
            found.append((command, needs.group(1).strip() if needs else None, int(exits.group(1)) if exits else 0))
    return found


def test_the_readme_has_commands_and_the_quick_start_is_two():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quick, flags=re.S).group(1)
    assert len([line for line in block.splitlines() if line.strip() and not line.startswith("#")]) == 2
    assert len(commands()) >= 8


def check_install(words: list[str]) -> None:
    """`pip install -e ".[a,b]"` of extras the project declares."""
    from tests.support.pins import extras

    assert words[:3] == ["pip", "install", "-e"] and len(words) == 4, words
    match = re.fullmatch(r"\.\[([a-z,]+)\]", words[3])
    assert match, words[3]
    assert set(match.group(1).split(",")) <= set(extras()), words[3]


def as_run(command: str) -> list[str] | None:
    """The parts of `command` (joined by &&) to run here; installs are checked, not run."""
    parts = []
    for part in command.split("&&"):
        words = shlex.split(part)
        if words[:2] == ["pip", "install"]:
            check_install(words)
        elif words[:3] == ["python", "-m", "pytest"] or words[:2] == ["npm", "ci"]:
            continue  # the suite itself, and the emulators it is using right now
        else:
            parts.append(part.strip())
    return parts or None


@pytest.mark.parametrize("command, needs, code", commands(), ids=[c for c, _, _ in commands()])
def test_readme_command(command, needs, code):
    if needs:
        pytest.skip(f"needs {needs}")
    parts = as_run(command)
    if parts is None:
        pytest.skip("the test suite itself: CI runs it (.ci/run)")
    done = subprocess.run(["bash", "-c", " && ".join(parts)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
