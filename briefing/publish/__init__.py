"""`briefing publish`: the built site to a directory, a git branch or an S3 bucket.

Shaped like `hugo deploy`; every target goes through the same five steps:

    1. build      a clean production build (no drafts, no live reload), or with --no-build
                  the output folder, refused unless it holds a complete build (its manifest)
    2. scan       what the target holds under its prefix              Target.scan()
    3. plan       uploads (new), updates (changed), deletes (gone), unchanged, by content hash
    4. summary    printed; stop here on --dry-run; deletes above --max-deletes are refused
    5. apply      uploads and updates first, deletes last             Target.apply()

A failure in step 5 is a PublishError that says what was done before it. Targets are named in
config.yaml under `publish:` (see docs/publishing.md); this module validates that section.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import yamlload
from ..config import CONFIG_NAME, Config
from ..errors import ConfigError, Problem, PublishError
from .base import (
    MANIFEST_NAME,
    LocalFile,
    LocalSite,
    Option,
    Plan,
    Progress,
    RemoteFile,
    Target,
    make_plan,
    read_site,
)
from .directory import DirectoryTarget
from .gitbranch import GitTarget
from .s3 import S3Target

__all__ = [
    "DEFAULT_MAX_DELETES", "MANIFEST_NAME", "TARGET_TYPES", "LocalFile", "LocalSite", "Option",
    "Outcome", "Plan", "Progress", "PublishSettings", "RemoteFile", "Target", "TargetSpec",
    "load_settings", "make_plan", "make_target", "publish", "read_site",
]

DEFAULT_MAX_DELETES = 256
TARGET_TYPES: Mapping[str, type[Target]] = {
    "directory": DirectoryTarget,
    "git": GitTarget,
    "s3": S3Target,
}
# Keys that hold a secret: never accepted in config.yaml, whatever the target type.
_SECRET_KEY = re.compile(r"secret|passw|token|access_key|credential|private_key|api_key",
                         re.IGNORECASE)


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TargetSpec:
    name: str
    type: str
    options: Mapping[str, Any]  # validated, with defaults filled in


@dataclass(frozen=True)
class PublishSettings:
    default: str | None
    targets: Mapping[str, TargetSpec]

    def choose(self, name: str | None) -> TargetSpec:
        """The named target; without a name the `default:` one, or the only one."""
        names = ", ".join(sorted(self.targets))
        if name is None:
            if self.default is not None:
                return self.targets[self.default]
            if len(self.targets) == 1:
                return next(iter(self.targets.values()))
            if not self.targets:
                raise PublishError(f"{CONFIG_NAME}: no publish targets. Add one under "
                                   "`publish: targets:` (see docs/publishing.md).")
            raise PublishError(f"{CONFIG_NAME}: several publish targets ({names}); name one "
                               "(`briefing publish NAME`) or set `publish: default:`.")
        if name not in self.targets:
            close = difflib.get_close_matches(name, list(self.targets), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise PublishError(f"no publish target named {name!r} in {CONFIG_NAME}.{hint} "
                               f"Targets: {names or 'none'}.")
        return self.targets[name]


def load_settings(config: Config) -> PublishSettings:
    """Validate `config.publish`; every problem is reported at once, with its line."""
    data = config.publish or {}
    problems: list[Problem] = []

    def problem(mapping: Any, key: Any, message: str, default: int | None = None) -> None:
        problems.append(Problem(CONFIG_NAME, yamlload.line_of(mapping, key, default), message))

    for key in data:
        if key not in ("default", "targets"):
            problem(data, key, f"unknown key 'publish.{key}'.{_did_you_mean(key, ['default', 'targets'], 'publish.')}"
                    " Known keys here: default, targets.")
    targets_raw = data.get("targets", {})
    if targets_raw is None:
        targets_raw = {}
    if not isinstance(targets_raw, Mapping):
        problem(data, "targets", "'publish.targets' must be a mapping of target names to settings.")
        targets_raw = {}
    targets: dict[str, TargetSpec] = {}
    for name, raw in targets_raw.items():
        spec = _check_target(str(name), raw, targets_raw, problems)
        if spec is not None:
            targets[str(name)] = spec
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        problem(data, "default", "'publish.default' must be the name of a target.")
        default = None
    elif default is not None and default not in targets_raw:
        problem(data, "default", f"'publish.default' names {default!r}, which is not under "
                f"publish.targets.{_did_you_mean(default, [str(k) for k in targets_raw], '')}")
    if problems:
        raise ConfigError(problems)
    return PublishSettings(default, targets)


def _did_you_mean(key: Any, known: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    return f" Did you mean '{prefix}{close[0]}'?" if close else ""


def _check_target(name: str, raw: Any, parent: Any, problems: list[Problem]) -> TargetSpec | None:
    where = f"publish.targets.{name}"
    line = yamlload.line_of(parent, name)
    before = len(problems)

    def problem(key: Any, message: str) -> None:
        problems.append(Problem(CONFIG_NAME, yamlload.line_of(raw, key, line), message))

    if not isinstance(raw, Mapping):
        problems.append(Problem(CONFIG_NAME, line, f"'{where}' must be a mapping with a `type:` "
                                f"({', '.join(TARGET_TYPES)})."))
        return None
    kind = raw.get("type")
    cls = TARGET_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        got = "missing" if kind is None else repr(kind)
        problem("type", f"'{where}.type' is {got}; it must be one of: {', '.join(TARGET_TYPES)}.")
        return None
    options: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{where}.{key}"
        if key == "type":
            continue
        if isinstance(key, str) and _SECRET_KEY.search(key):
            problem(key, f"'{dotted}' looks like a credential. Credentials never go in "
                    f"{CONFIG_NAME}, which is shared with the content. {cls.CREDENTIALS_HELP}")
            continue
        option = cls.OPTIONS.get(key) if isinstance(key, str) else None
        if option is None:
            known = ", ".join(["type", *cls.OPTIONS])
            problem(key, f"unknown key '{dotted}' for a {kind} target."
                    f"{_did_you_mean(key, list(cls.OPTIONS), where + '.')} Known keys here: {known}.")
            continue
        message = _check_option(option, value, dotted)
        if message:
            problem(key, message)
        else:
            options[key] = value
    for key, option in cls.OPTIONS.items():
        if key not in raw:
            if option.required:
                problems.append(Problem(CONFIG_NAME, line, f"'{where}' needs `{key}:` ({option.help})."))
            options[key] = option.default
    if len(problems) == before:
        for key, message in cls.check(options):
            problem(key, f"'{where}.{key}': {message}")
    return TargetSpec(name, kind, options) if len(problems) == before else None


def _check_option(option: Option, value: Any, dotted: str) -> str | None:
    if option.kind == "str" and not isinstance(value, str):
        return f"'{dotted}' must be a string."
    if option.kind == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        return f"'{dotted}' must be a whole number, 1 or more."
    if option.kind == "bool" and not isinstance(value, bool):
        return f"'{dotted}' must be true or false."
    if option.kind == "auto-bool" and not (isinstance(value, bool) or value == "auto"):
        return f"'{dotted}' must be true, false or auto."
    if option.kind == "globmap" and not (
        isinstance(value, Mapping)
        and all(isinstance(k, str) and k and isinstance(v, str) for k, v in value.items())
    ):
        return f"'{dotted}' must map path globs to strings, e.g. {{\"*.html\": \"max-age=300\"}}."
    return None


def make_target(spec: TargetSpec, config: Config) -> Target:
    return TARGET_TYPES[spec.type](spec.name, spec.options, config.root, config.output_path)


# ---------------------------------------------------------------------------- the flow


@dataclass(frozen=True)
class Outcome:
    target: str
    plan: Plan
    applied: bool  # False on --dry-run and when there was nothing to do
    note: str = ""  # what the target reports, e.g. the commit it pushed


def publish(
    config: Config,
    name: str | None = None,
    *,
    dry_run: bool = False,
    max_deletes: int = DEFAULT_MAX_DELETES,
    build: bool = True,
    confirm: Callable[[Plan], bool] | None = None,
    echo: Callable[[str], None] = print,
) -> Outcome:
    """Publish the site to the named (or default) target; see the module docstring."""
    spec = load_settings(config).choose(name)
    target = make_target(spec, config)
    try:
        if build:
            echo(f"Building the site into {config.output_path} for production (no drafts)...")
        folder = _build(config) if build else config.output_path
        site = read_site(folder)
        with tempfile.TemporaryDirectory(prefix="briefing-publish-") as tmp:
            site = site.with_extras(target.extra_files(), Path(tmp))
            return _run(target, site, dry_run=dry_run, max_deletes=max_deletes,
                        confirm=confirm, echo=echo)
    finally:
        target.close()


def _build(config: Config) -> Path:
    from ..build import build  # the pipeline; imported here so publishing needs it only to build

    result = build(config, drafts=False)
    return Path(result.output)


def _run(target: Target, site: LocalSite, *, dry_run: bool, max_deletes: int,
         confirm: Callable[[Plan], bool] | None, echo: Callable[[str], None]) -> Outcome:
    where = target.describe()
    echo(f"Publishing {site.root} ({len(site.files)} files) to {where}")
    plan = make_plan(target, site, target.scan())
    echo(f"Plan: {plan.counts()}")
    for line in plan.lines(None if dry_run else 20):
        echo(line)
    too_many = len(plan.deletes) > max_deletes
    refusal = (f"the plan deletes {len(plan.deletes)} files from {where}, more than --max-deletes "
               f"{max_deletes}. Check that the target and its prefix are right; to go ahead, run "
               f"again with --max-deletes {len(plan.deletes)}.")
    if dry_run:
        if too_many:
            echo(f"Note: without --dry-run this would be refused: {refusal}")
        echo("Dry run: nothing was changed.")
        return Outcome(where, plan, applied=False)
    if too_many:
        raise PublishError(f"Refused: {refusal} Nothing was changed.")
    if plan.empty:
        echo(f"Nothing to publish: {where} is up to date.")
        return Outcome(where, plan, applied=False)
    if confirm is not None and not confirm(plan):
        raise PublishError("Publish cancelled; nothing was changed.")
    progress = Progress()
    try:
        note = target.apply(site, plan, progress)
    except PublishError as exc:
        raise PublishError(f"Publishing to {where} failed: {exc}\n{progress.report(plan)}") from None
    echo(f"Published: {len(progress.uploaded)} uploaded, {len(progress.updated)} updated, "
         f"{len(progress.deleted)} deleted, {len(plan.unchanged)} unchanged."
         + (f" {note}" if note else ""))
    return Outcome(where, plan, applied=True, note=note)
