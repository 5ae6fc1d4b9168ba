"""The expression half of Go's ``text/template/exec.go``: pipelines, commands, fields, calls.

``Evaluation`` holds what an execution carries (the template set, the tree, the variables, the
node being run, for Go's error context) and evaluates what ``{{ }}`` holds; ``exec.py`` walks the
statements (text, ``if``, ``range``, ``with``, ``template``) on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watcher.gotemplate import nodes as n
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

_CONTEXT_LEN = 20


class ExecError(Exception):
    """A template failed while executing; the message is Go's."""


class LoopBreak(Exception):  # noqa: N818 - control flow, not an error
    """``{{break}}``: leaves the innermost ``range``."""


class LoopContinue(Exception):  # noqa: N818 - control flow, not an error
    """``{{continue}}``: goes on with the innermost ``range``'s next element."""


@dataclass
class TemplateSet:
    """Parsed trees by name and the functions they may call."""

    trees: dict[str, n.Tree]
    funcs: Mapping[str, GoFunc]


class Evaluation:
    """One execution's state and the evaluation of pipelines (Go's ``state.eval*``)."""

    def __init__(
        self, tset: TemplateSet, tree: n.Tree, variables: list[tuple[str, object]]
    ) -> None:
        self.tset = tset
        self.tree = tree
        self.vars = variables
        self.node: n.Node | None = None

    def error(self, message: str) -> ExecError:
        """``message`` as Go words an execution error: template, location, node."""
        name = self.tree.name
        if self.node is None:
            return ExecError(f"template: {name}: {message}")
        context = str(self.node)
        if len(context) > _CONTEXT_LEN:
            context = context[:_CONTEXT_LEN] + "..."
        location = self.tree.location(self.node)
        return ExecError(f"template: {location}: executing {quote(name)} at <{context}>: {message}")

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
        except (LoopBreak, LoopContinue):
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
