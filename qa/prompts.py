"""Prompt templates as files: `prompts/<name>.txt` with named `{variables}`.

A template may be split into chat roles by lines that hold only `[system]` or `[user]`; without
such lines the whole text is one user message. Literal braces are written `{{` and `}}`.
Rendering fails (ConfigError) on a missing or an unused variable, so a wording change cannot
silently drop a value. Each prompt carries its `hash` (sha256 of the file text, 12 hex digits):
answers and eval reports record it, so a wording change shows up in results.

    >>> p = load_prompt("condense")
    >>> msgs = p.messages(history="- Who sued Baldoni?", question="Why?")
    >>> [m["role"] for m in msgs]
    ['system', 'user']
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qa.errors import ConfigError

_ROLE_LINE = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    """One template: its name, text, sha256 prefix and the variables it needs."""

    name: str
    text: str
    hash: str
    variables: frozenset[str]

    @classmethod
    def from_text(cls, name: str, text: str) -> Prompt:
        _sections(text)  # fail at load time on a malformed role layout
        return cls(name, text, prompt_hash(text), frozenset(_variables(name, text)))

    def render(self, **values: object) -> str:
        """The whole template filled in (role lines kept); see `messages` for chat roles."""
        self._check(values)
        return self.text.format(**values)

    def messages(self, **values: object) -> list[dict[str, str]]:
        """The filled template as chat messages [{"role", "content"}], in file order."""
        self._check(values)
        out: list[dict[str, str]] = []
        for role, body in _sections(self.text):
            content = body.format(**values).strip()
            if content:
                out.append({"role": role, "content": content})
        return out

    def _check(self, values: dict[str, object]) -> None:
        missing = sorted(self.variables - set(values))
        unused = sorted(set(values) - self.variables)
        if missing:
            raise ConfigError(
                f"prompt {self.name!r} needs the variable(s) {', '.join(missing)}; "
                f"pass them when rendering (it uses: {', '.join(sorted(self.variables))})"
            )
        if unused:
            raise ConfigError(
                f"prompt {self.name!r} does not use the variable(s) {', '.join(unused)}; "
                f"add {{{unused[0]}}} to prompts/{self.name}.txt or stop passing it"
            )


def prompt_hash(text: str) -> str:
    """The first 12 hex digits of the sha256 of a prompt's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def prompts_dir() -> Path:
    """The folder of the shipped templates (the `prompts` package)."""
    return Path(str(resources.files("prompts")))


def load_prompt(name: str, folder: str | Path | None = None) -> Prompt:
    """Read `<folder>/<name>.txt` (default: the shipped prompts/ folder)."""
    path = Path(folder or prompts_dir()) / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"prompt file {path} is missing; reinstall the project (pip install -e .)")
    return Prompt.from_text(name, text)


def _variables(name: str, text: str) -> set[str]:
    found: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as e:
        raise ConfigError(f"prompt {name!r} is not a valid template ({e}); write literal braces "
                          "as {{ and }}") from None
    for _, field, spec, conv in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conv:
            raise ConfigError(
                f"prompt {name!r} has the placeholder {{{field}}}: only plain named variables "
                "like {question} are allowed; write literal braces as {{ and }}"
            )
        found.add(field)
    return found


def _sections(text: str) -> list[tuple[str, str]]:
    marks = list(_ROLE_LINE.finditer(text))
    if not marks:
        return [("user", text)]
    if text[: marks[0].start()].strip():
        raise ConfigError("a prompt with [system]/[user] lines must start with one of them")
    return [
        (m.group(1), text[m.end() : (marks[i + 1].start() if i + 1 < len(marks) else len(text))])
        for i, m in enumerate(marks)
    ]
