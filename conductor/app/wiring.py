"""The composition root: what a run is built from, in one place for the CLI and the TUI.

    skills = build_skills()                      # every skill the installed packages declare
    provider = build_provider(config, skills)    # anthropic, or the autopilot over those skills
    approver = build_approver(config.policy_file)

Skills are found through the entry point group `conductor.skills` (pyproject.toml): each entry point
names a callable that returns a list of skills (this project's: `skills.registry:default_skills`).
The engine never imports a skill package; it gets the list from here. Subcommands a package adds
to the CLI (`conductor bench`) come the same way, from the group `conductor.commands`.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Optional, Sequence

from conductor.engine.approver import Approver, NoHumanApprover, PolicyApprover
from conductor.engine.config import ReleaseConfig
from conductor.providers.base import Provider
from conductor.runtime.command import Command
from conductor.runtime.skill import Skill
from gates.failure_classes import ExitCode

SKILLS_GROUP = "conductor.skills"
COMMANDS_GROUP = "conductor.commands"


class WiringError(Exception):
    """What a run needs cannot be built: one sentence for the user, and the exit code it ends with."""

    def __init__(self, message: str, code: int = ExitCode.CONFIG_ERROR):
        super().__init__(message)
        self.code = code


def skill_providers() -> list[EntryPoint]:
    """The entry points of the `conductor.skills` group, by name."""
    return sorted(entry_points(group=SKILLS_GROUP), key=lambda ep: ep.name)


def build_skills(config: Optional[ReleaseConfig] = None) -> list[Skill]:
    eps = skill_providers()
    if not eps:
        raise WiringError(f"no skills are installed (no entry point in group {SKILLS_GROUP!r}); "
                          "install conductor with its skills: scripts/setup.sh", ExitCode.INTERNAL_ERROR)
    skills: list[Skill] = []
    for ep in eps:
        try:
            skills.extend(ep.load()())
        except ImportError as exc:
            raise WiringError(f"the domain skills are not available in this installation ({exc})",
                              ExitCode.INTERNAL_ERROR) from None
    return skills


def build_provider(config: ReleaseConfig, skills: Optional[Sequence[Skill]] = None) -> Provider:
    name = config.resolved_provider()
    if name == "autopilot":
        from conductor.engine.autopilot import AutopilotProvider

        return AutopilotProvider(skills if skills is not None else build_skills(config))
    if name == "anthropic":
        from conductor.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(config.provider_model, base_url=config.base_url, api_key=config.api_key_value())
    raise WiringError(f"provider {name!r} cannot drive a new run; use anthropic or autopilot "
                      "(replay serves recorded runs: `conductor replay`)")


def build_commands() -> list[Command]:
    """The subcommands the installed packages add (group `conductor.commands`), by name."""
    commands: list[Command] = []
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name):
        try:
            commands.append(ep.load())
        except ImportError as exc:
            raise WiringError(f"the command {ep.name!r} is not available in this installation ({exc})",
                              ExitCode.INTERNAL_ERROR) from None
    return commands


def build_approver(policy_file: Optional[str]) -> Approver:
    return PolicyApprover.from_file(policy_file) if policy_file else NoHumanApprover()


def build_run_parts(config: ReleaseConfig) -> tuple[Provider, list[Skill]]:
    """(provider, skills) for a new run of `config` (what the TUI's start form needs)."""
    skills = build_skills(config)
    return build_provider(config, skills), skills


__all__ = ["COMMANDS_GROUP", "SKILLS_GROUP", "WiringError", "build_approver", "build_commands", "build_provider",
           "build_run_parts", "build_skills"]
