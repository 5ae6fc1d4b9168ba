"""Go text/template's executor (``text/template/exec.go``) over ``values`` types.

Semantics and error texts follow Go with ``missingkey=zero`` (the option Prometheus and
Alertmanager both set): a missing map key is the map's zero value, a field a struct does not
have is ``can't evaluate field X in type T``. Output and template depth are bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.gotemplate import nodes as n
from watcher.gotemplate.evaluation import (
    Evaluation,
    ExecError,
    LoopBreak,
    LoopContinue,
    TemplateSet,
)
from watcher.gotemplate.fmt import value_string
from watcher.gotemplate.htmlescape import HtmlContext
from watcher.gotemplate.strconv import quote
from watcher.gotemplate.typecheck import MISSING, is_true
from watcher.gotemplate.values import GoFunc

__all__ = ["ExecError", "TemplateSet", "execute"]

MAX_OUTPUT = 1 << 20  # characters one execution may write
MAX_DEPTH = 100  # nested {{template}} calls


def execute(tset: TemplateSet, name: str, data: object, *, html: bool = False) -> str:
    """Run template ``name`` on ``data``; raise ``ExecError`` with Go's message.

    ``html`` escapes every output for its place in an HTML document, as Go's
    ``html/template`` does (``watcher.gotemplate.htmlescape``)."""
    tree = tset.trees.get(name)
    if tree is None:
        msg = f"template: no template {quote(name)} associated with template {quote(name)}"
        raise ExecError(msg)
    out: list[str] = []
    state = _State(tset, tree, out, [("$", data)], 0)
    state.html = HtmlContext() if html else None
    state.walk(data, tree.root)
    if state.html is not None:
        out.append(state.html.finish())
    return "".join(out)


def _last_func(node: n.Node) -> str | None:
    """The function a printed pipeline ends in (``{{ .X | urlquery }}``), if any."""
    if isinstance(node, n.ActionNode) and node.pipe.cmds:
        first = node.pipe.cmds[-1].args[0] if node.pipe.cmds[-1].args else None
        if isinstance(first, n.IdentifierNode):
            return first.ident
    return None


class _State(Evaluation):
    """Walks a tree's statements, writing the output (Go's ``state.walk*``)."""

    def __init__(
        self,
        tset: TemplateSet,
        tree: n.Tree,
        out: list[str],
        variables: list[tuple[str, object]],
        depth: int,
    ) -> None:
        super().__init__(tset, tree, variables)
        self.out = out
        self.depth = depth
        self.size = 0
        self.html: HtmlContext | None = None

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            msg = f"template output exceeds {MAX_OUTPUT} characters"
            raise self.error(msg)
        self.out.append(text)

    # -- walking --------------------------------------------------------------------------

    def walk(self, dot: object, node: n.Node) -> None:
        self.node = node
        if isinstance(node, n.TextNode):
            self.write(node.text if self.html is None else self.html.text(node.text))
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.ActionNode):
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, value)
        elif isinstance(node, n.BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                mark = len(self.vars)
                value = self.pipeline(dot, node.pipe)
                if is_true(value):
                    self.walk(value if node.keyword == "with" else dot, node.body)
                elif node.else_body is not None:
                    self.walk(dot, node.else_body)
                del self.vars[mark:]
        elif isinstance(node, n.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, n.LoopControlNode):
            raise LoopBreak if node.keyword == "break" else LoopContinue
        else:
            msg = f"unknown node: {node}"
            raise self.error(msg)

    def walk_range(self, dot: object, node: n.BranchNode) -> None:
        self.node = node
        mark = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        inner = len(self.vars)
        decl = node.pipe.decl
        items: list[tuple[object, object]]
        if value is None or value is MISSING:
            items = []
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, Sequence) and not isinstance(value, str):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            msg = f"range can't iterate over {value_string(value)}"
            raise self.error(msg)
        for index, elem in items:
            if decl:
                self.vars[inner - 1] = (decl[-1].ident[0], elem)
            if len(decl) > 1:
                self.vars[inner - 2] = (decl[0].ident[0], index)
            try:
                self.walk(elem, node.body)
            except LoopContinue:
                pass
            except LoopBreak:
                break
            finally:
                del self.vars[inner:]
        if not items and node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_template(self, dot: object, node: n.TemplateNode) -> None:
        self.node = node
        tree = self.tset.trees.get(node.name)
        if tree is None:
            msg = f"template {quote(node.name)} not defined"
            raise self.error(msg)
        if self.depth >= MAX_DEPTH:
            msg = f"exceeded maximum template depth ({MAX_DEPTH})"
            raise self.error(msg)
        new_dot = self.pipeline(dot, node.pipe) if node.pipe is not None else None
        state = _State(self.tset, tree, self.out, [("$", new_dot)], self.depth + 1)
        state.size, state.html = self.size, self.html
        state.walk(new_dot, tree.root)
        self.size = state.size

    def print_value(self, node: n.Node, value: object) -> None:
        self.node = node
        if value is None or value is MISSING:
            self.write("<no value>")
            return
        if isinstance(value, GoFunc):
            msg = f"can't print {node} of type func"
            raise self.error(msg)
        text = value_string(value)
        if self.html is not None:
            text = self.html.value(value, text, _last_func(node))
        self.write(text)
