"""The exception hierarchy. Only these become one-line messages for the user; anything else is a
bug and keeps its traceback."""

from __future__ import annotations

from pathlib import Path


class BengalError(Exception):
    """Base of every error bengal reports to users."""


class ConfigError(BengalError):
    """A problem in bengal.toml (or another config source): names the file and the key."""

    def __init__(self, message: str, *, file: str | Path | None = None, key: str | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.reason = message
        where = self.file or "config"
        if key:
            where += f": [{key}]" if "." not in key else f": {key}"
        super().__init__(f"{where}: {message}")


class ContentError(BengalError):
    """A problem in a content file: names the file and, where known, the line."""

    def __init__(self, message: str, *, file: str, line: int | None = None):
        self.file = file
        self.line = line
        self.reason = message
        loc = f"{file}:{line}" if line else file
        super().__init__(f"{loc}: {message}")


class TemplateError(BengalError):
    """A problem in a template: names the template and, where known, the line."""

    def __init__(self, message: str, *, template: str | None = None, line: int | None = None):
        self.template = template
        self.line = line
        self.reason = message
        loc = template or "template"
        if line:
            loc += f":{line}"
        super().__init__(f"{loc}: {message}")


class BuildError(BengalError):
    """A problem with the build as a whole (output directory, lock, ...)."""
