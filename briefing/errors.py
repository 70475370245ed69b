"""One exception family; every message is complete and meant for the user.

    BriefingError
     ├── ConfigError       config.yaml is wrong
     ├── ContentError      one or more content files are wrong (carries every problem found)
     ├── CurationError     the curation file (entities.yaml) is wrong
     ├── TemplateError     a template failed to load or render
     ├── EnrichmentError   the NLP model is missing or failed
     ├── OutputError       the output folder cannot be written
     ├── BuildLockedError  another build holds the project lock
     └── PublishError      a publish target failed

The CLI prints `str(error)` without a traceback and exits 1. Any other exception is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, located as precisely as we can."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class BriefingError(Exception):
    """Base of every user-facing error."""


class ProblemsError(BriefingError):
    """An error made of one or more located problems, all reported at once."""

    what = "problem"

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", None, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        lines = [str(p) if p.path else p.message for p in self.problems]
        if len(self.problems) > 1:
            lines.append(f"{len(self.problems)} {self.what}s found.")
        return "\n".join(lines)


class ConfigError(ProblemsError):
    what = "configuration problem"


class ContentError(ProblemsError):
    what = "content problem"


class CurationError(ProblemsError):
    what = "curation problem"


class TemplateError(ProblemsError):
    what = "template problem"


class EnrichmentError(BriefingError):
    pass


class OutputError(BriefingError):
    pass


class BuildLockedError(BriefingError):
    pass


class PublishError(BriefingError):
    pass
