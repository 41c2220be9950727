"""Every command and every flag says what it does and shows an example."""
from __future__ import annotations

import pytest
import typer

from nntrain.cli import app

COMMAND = typer.main.get_command(app)
TYPER_OWN = {"help", "install_completion", "show_completion"}


def commands():
    return sorted(COMMAND.commands.items())


@pytest.mark.parametrize("name,cmd", commands(), ids=[n for n, _ in commands()])
def test_command_and_flags_have_help_with_an_example(name, cmd):
    assert cmd.help and "Example: nntrain " + name in cmd.help, f"`nntrain {name}` help needs 'Example: nntrain {name} ...'"
    for param in cmd.params:
        if param.name in TYPER_OWN:
            continue
        text = getattr(param, "help", None)
        assert text, f"nntrain {name}: {param.name} has no help"
        assert "e.g." in text, f"nntrain {name}: {param.name} help has no example ('e.g. ...')"


def test_help_runs_for_every_command(cli):
    top = cli("--help")
    assert top.exit_code == 0 and "--install-completion" in top.stdout  # shell completion
    for name, _ in commands():
        result = cli(name, "--help")
        assert result.exit_code == 0 and "Example:" in result.stdout, name
