"""Findings about a config: a code, a severity, a place, a message, a hint, and an optional mechanical fix.

Every front-end stage (preprocessor, parser, checker) reports through `Diagnostic`, so the text, JSON and SARIF
outputs and `--fix` see one shape.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered so that max() picks the worst."""

    NOTE = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Location:
    """A place in a source file: 1-based line and column (a tab counts as one column, as in OpenSIPS)."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text between two locations of one file (end exclusive) with `text`."""

    file: str
    start: tuple[int, int]
    end: tuple[int, int]
    text: str


@dataclass(frozen=True)
class Fix:
    """A mechanical rewrite: what it does, and the edits that do it."""

    description: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    location: Location
    message: str
    hint: str | None = None
    fix: Fix | None = None
    related: tuple[tuple[Location, str], ...] = field(default=())

    def sort_key(self) -> tuple:
        return (self.location.file, self.location.line, self.location.column, self.code)


class ConfigError(Exception):
    """A config that cannot be used: carries the diagnostics that say why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        where = f"{first.location.file}:{first.location.line}:{first.location.column}: " if first else ""
        super().__init__(f"{where}{first.message if first else 'bad config'}")
