"""Discord application commands, generated from the registry.

Each spec becomes an `app_commands.Command` (inside an `app_commands.Group` for its group) whose
parameters are the spec's options, with their types, descriptions, choices and autocomplete. The
callback's signature is built from the options, because that is how discord.py reads parameters.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Awaitable, Callable
from typing import Any, Optional, cast

import discord
from discord import app_commands

from commands.engine.registry import Registry
from commands.engine.spec import CommandSpec, Kind, Option

Run = Callable[[discord.Interaction, CommandSpec, dict], Awaitable[None]]
Complete = Callable[[discord.Interaction, Option, str], Awaitable[list[app_commands.Choice[str]]]]

_TYPES = {Kind.INT: int, Kind.FLAG: bool}
AUTOCOMPLETED = (Kind.PROJECT, Kind.RELEASE, Kind.PERSON)


def build(registry: Registry, run: Run, complete: Complete) -> list[app_commands.Command | app_commands.Group]:
    groups = {g: app_commands.Group(name=g, description=f"Tower /{g} commands") for g in registry.groups()}
    top: list[app_commands.Command | app_commands.Group] = []
    for spec in registry:
        parent = groups.get(spec.group) if spec.group else None
        command: app_commands.Command = app_commands.Command(
            name=spec.name,
            description=spec.summary[:100],
            callback=_callback(spec, run, complete),
            parent=parent,
        )
        if parent is not None:
            parent.add_command(command)
        else:
            top.append(command)
    return [*groups.values(), *top]


def _callback(spec: CommandSpec, run: Run, complete: Complete):
    async def callback(interaction: discord.Interaction, **values):
        await run(interaction, spec, {_option_name(k): v for k, v in values.items()})

    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
    for opt in spec.options:
        kind = _TYPES.get(opt.kind, str)
        required = opt.required and opt.kind is not Kind.FLAG
        params.append(
            inspect.Parameter(
                _param_name(opt.name),
                inspect.Parameter.KEYWORD_ONLY,
                annotation=kind if required else Optional[kind],  # noqa: UP045 (discord.py reads Optional)
                default=inspect.Parameter.empty if required else None,
            )
        )
    # inspect.signature() reads __signature__ off any callable; function types do not declare it.
    cast(Any, callback).__signature__ = inspect.Signature(params)
    callback.__qualname__ = callback.__name__ = f"tower_{spec.path.replace(' ', '_')}"
    described = app_commands.describe(**{_param_name(o.name): o.help[:100] for o in spec.options})(callback)
    renamed = {_param_name(o.name): o.name for o in spec.options if _param_name(o.name) != o.name}
    if renamed:
        described = app_commands.rename(**renamed)(described)
    choices = {
        _param_name(o.name): [app_commands.Choice(name=c, value=c) for c in o.choices]
        for o in spec.options
        if o.choices
    }
    if choices:
        described = app_commands.choices(**choices)(described)
    completers = {
        _param_name(o.name): _completer(o, complete) for o in spec.options if o.kind in AUTOCOMPLETED and not o.choices
    }
    if completers:
        described = app_commands.autocomplete(**completers)(described)
    return described


def _completer(option: Option, complete: Complete):
    async def autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await complete(interaction, option, current)

    return autocomplete


def _param_name(option: str) -> str:
    """A Python name for an option, renamed back for Discord: `dry-run` is `dry_run`, `from` is `from_`."""
    name = option.replace("-", "_")
    return f"{name}_" if keyword.iskeyword(name) else name


def _option_name(param: str) -> str:
    return param.rstrip("_").replace("_", "-")
