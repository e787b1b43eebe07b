"""Every option of every `deskbridge` command says what it does in `--help`: serve's --host,
--port and --threads, and the --format of events, timers, outbox and digest, showed only their
type and default."""

from __future__ import annotations

from collections.abc import Iterator

import click

from deskbridge.cli import main


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_every_option_of_every_command_has_a_help_text():
    unexplained = [
        (" ".join(path), option.opts[0])
        for path in _commands(main)
        for option in _command(path).params
        if isinstance(option, click.Option) and not option.help
    ]

    assert len(list(_commands(main))) >= 20  # every command, the groups' own included
    assert unexplained == []
