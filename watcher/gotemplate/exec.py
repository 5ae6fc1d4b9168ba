"""Go text/template's executor (``text/template/exec.go``) over ``values`` types.

Semantics and error texts follow Go with ``missingkey=zero`` (the option Prometheus and
Alertmanager both set): a missing map key is the map's zero value, a field a struct does not
have is ``can't evaluate field X in type T``. Output and template depth are bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watcher.gotemplate import nodes as n
from watcher.gotemplate.fmt import value_string
from watcher.gotemplate.htmlescape import HtmlContext
from watcher.gotemplate.strconv import quote
from watcher.gotemplate.typecheck import (
    MISSING,
    TypeCheckError,
    constant,
    ideal,
    is_true,
    lookup,
    validate,
)
from watcher.gotemplate.values import GoFunc

MAX_OUTPUT = 1 << 20  # characters one execution may write
MAX_DEPTH = 100  # nested {{template}} calls
_CONTEXT_LEN = 20


class ExecError(Exception):
    """A template failed while executing; the message is Go's."""


class _Break(Exception): ...  # noqa: N818 - control flow, not an error


class _Continue(Exception): ...  # noqa: N818 - control flow, not an error


@dataclass
class TemplateSet:
    """Parsed trees by name and the functions they may call."""

    trees: dict[str, n.Tree]
    funcs: Mapping[str, GoFunc]


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


class _State:
    def __init__(
        self,
        tset: TemplateSet,
        tree: n.Tree,
        out: list[str],
        variables: list[tuple[str, object]],
        depth: int,
    ) -> None:
        self.tset = tset
        self.tree = tree
        self.out = out
        self.vars = variables
        self.depth = depth
        self.node: n.Node | None = None
        self.size = 0
        self.html: HtmlContext | None = None

    def error(self, message: str) -> ExecError:
        name = self.tree.name
        if self.node is None:
            return ExecError(f"template: {name}: {message}")
        context = str(self.node)
        if len(context) > _CONTEXT_LEN:
            context = context[:_CONTEXT_LEN] + "..."
        location = self.tree.location(self.node)
        return ExecError(f"template: {location}: executing {quote(name)} at <{context}>: {message}")

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            msg = f"template output exceeds {MAX_OUTPUT} characters"
            raise self.error(msg)
        self.out.append(text)

    # -- variables ------------------------------------------------------------------------

    def var_value(self, name: str) -> object:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        msg = f"undefined variable: {name}"
        raise self.error(msg)

    def set_var(self, name: str, value: object) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        msg = f"undefined variable: {name}"
        raise self.error(msg)

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
            raise _Break if node.keyword == "break" else _Continue
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
            except _Continue:
                pass
            except _Break:
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

    # -- evaluation -----------------------------------------------------------------------

    def pipeline(self, dot: object, pipe: n.PipeNode) -> object:
        self.node = pipe
        value: object = MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append((var.ident[0], value))
        return value

    def not_a_function(self, args: list[n.Node], final: object) -> None:
        if len(args) > 1 or final is not MISSING:
            msg = f"can't give argument to non-function {args[0]}"
            raise self.error(msg)

    def command(self, dot: object, cmd: n.CommandNode, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, n.FieldNode):
            self.node = first
            return self.field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self.chain(dot, first, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self.function(dot, first, cmd, cmd.args, final)
        if isinstance(first, n.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        if isinstance(first, n.VariableNode):
            return self.variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.BoolNode):
            return first.value
        if isinstance(first, n.DotNode):
            return dot
        if isinstance(first, n.NilNode):
            msg = "nil is not a command"
            raise self.error(msg)
        if isinstance(first, n.NumberNode):
            return self.ideal(first)
        if isinstance(first, n.StringNode):
            return first.text
        msg = f"can't evaluate command {quote(str(first))}"
        raise self.error(msg)

    def ideal(self, node: n.NumberNode) -> object:
        self.node = node
        try:
            return ideal(node)
        except TypeCheckError as exc:
            raise self.error(str(exc)) from None

    def chain(
        self, dot: object, chain: n.ChainNode, args: list[n.Node] | None, final: object
    ) -> object:
        self.node = chain
        if isinstance(chain.node, n.NilNode):
            msg = f"indirection through explicit nil in {chain}"
            raise self.error(msg)
        receiver = self.arg(dot, "any", chain.node)
        return self.field_chain(dot, receiver, chain, chain.fields, args, final)

    def variable(
        self, dot: object, var: n.VariableNode, args: list[n.Node] | None, final: object
    ) -> object:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.field_chain(dot, value, var, var.ident[1:], args, final)

    def field_chain(
        self,
        dot: object,
        receiver: object,
        node: n.Node,
        ident: list[str],
        args: list[n.Node] | None,
        final: object,
    ) -> object:
        for name in ident[:-1]:
            receiver = self.field(dot, name, node, None, MISSING, receiver)
        return self.field(dot, ident[-1], node, args, final, receiver)

    def field(
        self,
        dot: object,
        name: str,
        node: n.Node,
        args: list[n.Node] | None,
        final: object,
        receiver: object,
    ) -> object:
        if receiver is None or receiver is MISSING:
            return None
        method = getattr(receiver, "go_method", None)
        bound = method(name) if method is not None else None
        if isinstance(bound, GoFunc):
            return self.call(dot, bound, node, name, args, final)
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        try:
            return lookup(receiver, name, has_args=has_args)
        except TypeCheckError as exc:
            raise self.error(str(exc)) from None

    def function(
        self,
        dot: object,
        node: n.IdentifierNode,
        cmd: n.Node,
        args: list[n.Node] | None,
        final: object,
    ) -> object:
        self.node = node
        fn = self.tset.funcs.get(node.ident)
        if fn is None:
            msg = f"{quote(node.ident)} is not a defined function"
            raise self.error(msg)
        return self.call(dot, fn, cmd, node.ident, args, final)

    def call(
        self,
        dot: object,
        fn: GoFunc,
        node: n.Node,
        name: str,
        args: list[n.Node] | None,
        final: object,
    ) -> object:
        rest = args[1:] if args else []
        count = len(rest) + (0 if final is MISSING else 1)
        fixed = len(fn.params)
        if fn.variadic is not None:
            if count < fixed:
                msg = f"wrong number of args for {name}: want at least {fixed} got {len(rest)}"
                raise self.error(msg)
        elif count != fixed:
            msg_0 = f"wrong number of args for {name}: want {fixed} got {count}"
            raise self.error(msg_0)
        types = [*fn.params, *[fn.variadic or "any"] * max(0, count - fixed)]
        if fn.lazy:  # and / or short-circuit (Go 1.18)
            value: object = None
            for i, arg in enumerate(rest):
                value = self.arg(dot, types[i], arg)
                if is_true(value) == (name == "or"):
                    return value
            return final if final is not MISSING else value
        argv = [self.arg(dot, types[i], a) for i, a in enumerate(rest)]
        if final is not MISSING:
            argv.append(self.validate(final, types[count - 1]))
        try:
            return fn.fn(*argv)
        except (_Break, _Continue):
            raise
        except ExecError:
            raise
        except (ValueError, TypeError, ArithmeticError, IndexError, KeyError) as exc:
            self.node = node
            text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            msg_0 = f"error calling {name}: {text}"
            raise self.error(msg_0) from None

    def arg(self, dot: object, typ: str, node: n.Node) -> object:
        self.node = node
        if isinstance(node, n.DotNode):
            return self.validate(dot, typ)
        if isinstance(node, n.NilNode):
            if typ in ("any", "[]string") or typ.startswith("map"):
                return None
            msg = f"cannot assign nil to {typ}"
            raise self.error(msg)
        if isinstance(node, n.FieldNode):
            value = self.field_chain(dot, dot, node, node.ident, [node], MISSING)
            return self.validate(value, typ)
        if isinstance(node, n.VariableNode):
            return self.validate(self.variable(dot, node, None, MISSING), typ)
        if isinstance(node, n.PipeNode):
            return self.validate(self.pipeline(dot, node), typ)
        if isinstance(node, n.IdentifierNode):
            return self.validate(self.function(dot, node, node, None, MISSING), typ)
        if isinstance(node, n.ChainNode):
            return self.validate(self.chain(dot, node, None, MISSING), typ)
        try:
            return constant(node, typ)
        except TypeCheckError as exc:
            raise self.error(str(exc)) from None

    def validate(self, value: object, typ: str) -> object:
        try:
            return validate(value, typ)
        except TypeCheckError as exc:
            raise self.error(str(exc)) from None
