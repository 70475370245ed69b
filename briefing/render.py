"""The render stage: a Page and the Jinja environment in, the page's bytes out.

Templates come from the site's `templates/` first, then the built-in theme, so a site overrides
any template by name. Autoescape is on everywhere (HTML and XML) and undefined names are errors.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import traceback
from collections.abc import Mapping, MutableMapping
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from . import markdown
from .cache import code_digest
from .config import Config
from .errors import Problem, TemplateError
from .model import KIND_LABELS, KIND_SECTIONS
from .pages import Body, Page

THEME = Path(__file__).parent / "theme"
THEME_TEMPLATES = THEME / "templates"
THEME_STATIC = THEME / "static"
RENDER_VERSION = "1"

_DICT_ATTRS = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja's environment, with a fast `x.name` for the plain dicts that page contexts are made of.

    Jinja tries `getattr(x, "name")` first and only then `x["name"]`: on a dict that costs a raised
    and caught AttributeError per lookup, over a million a large build. For a plain dict and a name
    that is not one of dict's own attributes, that lookup can only end in the item (or undefined),
    so go there at once; `x.items` and `x.get` still mean the methods, and everything else takes
    Jinja's way.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as one plain dict, not Jinja's ChainMap over `self.globals`.

        Every render copies them into its context, and walking a ChainMap costs about 9 µs a
        page. The Renderer sets all its globals before any template loads, so a copy misses none.
        """
        return {**self.globals, **(d or {})}


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Each template's compiled code, kept in the cache folder: compiling the theme's templates
    costs a rebuild about 35 ms, loading them 2 ms. Jinja checks each against its source's
    checksum (and our Python version), so an edited template is compiled again. The checksum
    here also covers `salt`: what Jinja may have folded into the code as it compiled it, a
    filter called on a constant (`{{ 'style.css'|asset }}` holds the stylesheet's version).
    One file per template, replaced when either changes. A cache folder that cannot be read or
    written only means compiling."""

    def __init__(self, directory: str, salt: str):
        super().__init__(directory)
        self.salt = salt

    def get_source_checksum(self, source: str) -> str:
        return super().get_source_checksum(f"{self.salt}\0{source}")

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError):  # not a folder, unreadable, cut short
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass


class Renderer:
    """A Jinja environment for one site, and the digest of the templates it can load."""

    def __init__(self, config: Config, *, site_globals: Mapping[str, Any] | None = None,
                 asset_versions: Mapping[str, str] | None = None):
        self.config = config
        self.search_dirs = [d for d in (config.templates_path, THEME_TEMPLATES) if d.is_dir()]
        self.env = _Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.search_dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # One Renderer serves one build, and templates_digest is taken once: a template
            # edited meanwhile is the next build's. Not checking saves a stat() per template a
            # page uses, and a plain dict (-1) beats the LRU cache's locking for a dozen templates.
            auto_reload=False,
            cache_size=-1,
        )
        base_path = config.base_path
        base_url = config.base_url if config.base_url.endswith("/") else config.base_url + "/"
        versions = dict(asset_versions or {})
        self.asset_versions = versions

        def url(target: str) -> str:
            """A site-relative URL ("articles/x/") as a link that works under base_url's path."""
            return base_path + target.lstrip("/")

        def abs_url(target: str) -> str:
            return base_url + target.lstrip("/")

        def asset(target: str) -> str:
            v = versions.get(target)
            return url(target) + (f"?v={v}" if v else "")

        # Also as filters (`{{ e.url|url }}`), which the built-in theme uses: Jinja calls a filter
        # directly, not through Context.call, and works out `{{ 'archive/'|url }}` when it compiles.
        self.env.filters.update(url=url, abs_url=abs_url, asset=asset)
        self.env.globals.update(
            url=url, abs_url=abs_url, asset=asset, render_body=self.render_body,
            site={
                "title": config.title, "description": config.description, "language": config.language,
                "author": config.author, "base_url": base_url, "base_path": base_path,
                "search": config.search.enabled, "extra": dict(config.extra),
                "sections": [{"kind": k, "label": KIND_LABELS[k], "url": KIND_SECTIONS[k] + "/"}
                             for k in config.entities.page_kinds],
                **dict(site_globals or {}),
            },
        )
        folded = repr((base_path, base_url, sorted(versions.items()), sorted(self.env.globals["site"].items()),
                       code_digest()))
        self.env.bytecode_cache = _CompiledTemplates(str(config.cache_path / "templates"), folded)

    def render_body(self, body: Body) -> Markup:
        links = dict(body.links)
        base_path = self.config.base_path
        spans = tuple(s.__class__(s.start, s.end, base_path + s.href, s.kind, s.anchor, s.title)
                      for s in body.spans)
        if body.pieces and not links:  # parsed and rendered once already; only the links are new
            return Markup(markdown.render_pieces(body.pieces, spans))

        def rewrite(href: str) -> str:
            if href in links:
                return base_path + links[href]
            return href

        return Markup(markdown.render(body.markdown, html=body.html, spans=spans, rewrite_link=rewrite))

    @cached_property
    def templates_digest(self) -> str:
        """One hash over every template that could be loaded, and our render code's version."""
        h = hashlib.sha256(RENDER_VERSION.encode())
        for d in self.search_dirs:
            for p in sorted(d.rglob("*")):
                if p.is_file():
                    h.update(p.relative_to(d).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
        h.update(pickle.dumps(sorted((k, repr(v)) for k, v in self.env.globals["site"].items())))
        # Pages link assets with a content version (style.css?v=...): a changed stylesheet
        # must re-render them, or deployed pages would keep the stale version.
        h.update(pickle.dumps(sorted(self.asset_versions.items())))
        return h.hexdigest()

    def fingerprint(self, page: Page) -> str:
        """Changes when the page's output could change: its context, template set or URL."""
        h = hashlib.sha256(self.templates_digest.encode())
        h.update(page.template.encode() + b"\0" + page.path.encode() + b"\0")
        h.update(_context_bytes(page.context))
        return h.hexdigest()

    def render(self, page: Page) -> bytes:
        try:
            template = self.env.get_template(page.template)
            return template.render(page=page.context, page_url=page.url).encode("utf-8")
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(Problem(self._template_path(exc.filename or exc.name), exc.lineno,
                                        f"template syntax error: {exc.message}")) from None
        except jinja2.TemplateNotFound as exc:
            path, line = self._failing_template(exc)  # the template that includes or extends it
            raise TemplateError(Problem(page.template if path == "<template>" else path, line,
                                        f"template {exc.name!r} not found in "
                                        f"{', '.join(str(d) for d in self.search_dirs)}.")) from None
        except jinja2.UndefinedError as exc:
            path, line = self._failing_template(exc)
            raise TemplateError(Problem(path, line, f"{exc.message} (while rendering /{page.url}). "
                                        "Check the variable's name; `page` holds this page's data.")) from None
        except jinja2.TemplateError as exc:
            path, line = self._failing_template(exc)
            raise TemplateError(Problem(path, line, f"template error: {exc} (while rendering /{page.url})."))\
                from None
        except Exception as exc:
            # Raised by the template's own expressions ({{ 1 / 0 }}, {{ page.title + 1 }}): the
            # template's fault, so say where. Raised inside our code: a bug, with its traceback.
            frames = traceback.extract_tb(exc.__traceback__)
            if not frames or not self._is_template(frames[-1].filename):
                raise
            path, line = self._template_path(frames[-1].filename), frames[-1].lineno
            raise TemplateError(Problem(path, line, f"{type(exc).__name__}: {exc} (while rendering /{page.url}). "
                                        "Fix the expression on this line.")) from None

    def _template_path(self, filename: str | None) -> str:
        if not filename:
            return "<template>"
        p = Path(filename)
        try:
            return p.relative_to(self.config.root).as_posix()
        except ValueError:
            return p.as_posix()

    def _is_template(self, filename: str) -> bool:
        return any(filename.startswith(str(d) + "/") for d in self.search_dirs)

    def _failing_template(self, exc: BaseException) -> tuple[str, int | None]:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if self._is_template(frame.filename):
                return self._template_path(frame.filename), frame.lineno
        return "<template>", None


def _context_bytes(context: Mapping[str, Any]) -> bytes:
    """The context's value as bytes, whatever objects in it are shared.

    A normal pickle writes an object seen twice as a reference to the first copy, so equal
    contexts would give other bytes when a cache hands out one string or dict where another
    build made two. "Fast" mode keeps no memo: every value is written out in full.
    """
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.fast = True  # contexts hold no cycles, the one case fast mode cannot write
    pickler.dump(context)
    return buf.getvalue()
