"""Go's text/template, the one template engine of the watcher.

Rule labels and annotations (Prometheus's expander, ``watcher.rules.templates``) and
notification templates (Alertmanager's, ``watcher.gotemplate.alertmanager``) both run here: Go's
syntax (``if``/``else if``, ``range``, ``with``, ``define``/``template``/``block``, variables,
pipelines), Go's ``fmt`` printing and Go's error texts. Templates see only the values they are
given; there is no attribute access into Python and no ``query``.
"""

from __future__ import annotations

from collections.abc import Mapping

from watcher.gotemplate.exec import ExecError, TemplateSet, execute
from watcher.gotemplate.parser import ParseError, parse
from watcher.gotemplate.values import GoFunc

__all__ = ["ExecError", "ParseError", "Templates"]


class Templates:
    """A set of named templates sharing functions, like Go's ``*template.Template``."""

    def __init__(self, funcs: Mapping[str, GoFunc]) -> None:
        self._set = TemplateSet({}, funcs)

    def parse(self, text: str, name: str) -> None:
        """Parse ``text`` as template ``name``; its ``define``s join the set.

        A later definition replaces an earlier one unless it is empty (Go's
        ``AddParseTree``), so user template files can override the defaults.
        """
        for tree_name, tree in parse(text, name, self._set.funcs).items():
            old = self._set.trees.get(tree_name)
            if old is None or not tree.is_empty():
                self._set.trees[tree_name] = tree

    def clone(self) -> Templates:
        """An independent copy (what Alertmanager parses each config string into)."""
        copy = Templates(self._set.funcs)
        copy._set.trees.update(self._set.trees)
        return copy

    def execute(self, name: str, data: object, *, html: bool = False) -> str:
        """Run template ``name`` on ``data``; raise ``ExecError``. ``html`` escapes as Go's
        ``html/template`` does."""
        return execute(self._set, name, data, html=html)

    def execute_text(self, text: str, data: object) -> str:
        """Alertmanager's ``ExecuteTextString``: parse ``text`` as template "" and run it."""
        return self._execute_string(text, data, html=False)

    def execute_html(self, text: str, data: object) -> str:
        """Alertmanager's ``ExecuteHTMLString``: ``execute_text`` through ``html/template``."""
        return self._execute_string(text, data, html=True)

    def _execute_string(self, text: str, data: object, *, html: bool) -> str:
        if text == "":
            return ""
        tmpl = self.clone()
        tmpl.parse(text, "")
        return tmpl.execute("", data, html=html)
