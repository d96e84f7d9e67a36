"""`assay completion SHELL`: the script that teaches a shell to complete `assay` commands."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from typer._completion_shared import get_completion_script


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def completion(shell: Annotated[Shell, typer.Argument(case_sensitive=False, help="The shell.")]) -> None:
    """Print the completion script for SHELL, e.g. `assay completion bash >> ~/.bashrc` or
    `assay completion fish > ~/.config/fish/completions/assay.fish`."""
    typer.echo(get_completion_script(prog_name="assay", complete_var="_ASSAY_COMPLETE", shell=shell.value))
