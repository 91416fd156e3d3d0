"""Versioned prompt templates: `<kind>.v<N>.txt` files with `### system` and `### user` parts.

The version (e.g. `approach.v1`) is stored with every generation; a new wording is a new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template

CURRENT = {"approach": "approach.v2", "tasks": "tasks.v1"}


@dataclass(frozen=True)
class Prompt:
    version: str
    system: str
    user: str

    def as_text(self) -> str:
        return f"[system]\n{self.system}\n\n[user]\n{self.user}"


@lru_cache
def _load(version: str) -> tuple[Template, Template]:
    raw = resources.files(__package__).joinpath(f"{version}.txt").read_text(encoding="utf-8")
    _, _, rest = raw.partition("### system\n")
    system, _, user = rest.partition("### user\n")
    return Template(system.strip()), Template(user.strip())


def render(kind: str, values: dict[str, str], version: str | None = None) -> Prompt:
    """Fill the current (or a given) template version of `kind` with `values`."""
    v = version or CURRENT[kind]
    system, user = _load(v)
    return Prompt(version=v, system=system.safe_substitute(values), user=user.safe_substitute(values))
