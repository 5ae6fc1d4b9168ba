"""Go text/template's parser (``text/template/parse/parse.go``), error texts included.

``parse(text, name, functions)`` returns every tree the text defines: the top-level one under
``name`` and one per ``{{define}}`` / ``{{block}}``. A syntax error raises ``ParseError`` with
Go's message, ``template: NAME:LINE: ...``.
"""

from __future__ import annotations

from collections.abc import Container

from watcher.gotemplate import nodes as n
from watcher.gotemplate.lexer import Kind, Lexer, Token
from watcher.gotemplate.numbers import number_node
from watcher.gotemplate.strconv import quote, unquote

_OPERAND_START = {
    Kind.BOOL,
    Kind.CHARCONST,
    Kind.DOT,
    Kind.FIELD,
    Kind.IDENT,
    Kind.NUMBER,
    Kind.RAWSTRING,
    Kind.STRING,
    Kind.VARIABLE,
    Kind.LPAREN,
}
_CONSTANT_HEADS = (n.BoolNode, n.DotNode, n.NilNode, n.NumberNode, n.StringNode)


class ParseError(Exception):
    """A template that Go's parser rejects; the message is Go's."""


class _Parser:
    def __init__(
        self, text: str, name: str, functions: Container[str], trees: dict[str, n.Tree]
    ) -> None:
        self.text = text
        self.parse_name = name
        self.functions = functions
        self.trees = trees
        self.tokens = Lexer(text).run()
        self.i = 0
        self.vars = ["$"]
        self.range_depth = 0
        self.last = self.tokens[0]

    # -- tokens ---------------------------------------------------------------------------

    def next(self) -> Token:
        # The last token (EOF or an error) repeats forever, whatever is backed up.
        tok = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        self.last = tok
        return tok

    def peek(self) -> Token:
        return self.tokens[min(self.i, len(self.tokens) - 1)]

    def backup(self, count: int = 1) -> None:
        self.i -= count

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.kind is Kind.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        tok = self.next_non_space()
        self.backup()
        return tok

    def error(self, message: str) -> ParseError:
        return ParseError(f"template: {self.parse_name}:{self.last.line}: {message}")

    def unexpected(self, tok: Token, context: str) -> ParseError:
        if tok.kind is Kind.ERROR:
            return self.error(tok.val)
        return self.error(f"unexpected {tok} in {context}")

    def expect(self, kind: Kind, context: str) -> Token:
        tok = self.next_non_space()
        if tok.kind is not kind:
            raise self.unexpected(tok, context)
        return tok

    # -- structure ------------------------------------------------------------------------

    def parse(self) -> None:
        root = n.ListNode(self.peek().pos)
        while self.peek().kind is not Kind.EOF:
            if self.peek().kind is Kind.ERROR:
                raise self.error(self.next().val)
            if self.peek().kind is Kind.LEFT:
                start = self.i
                self.next()
                if self.next_non_space().val == "define" and self.last.kind is Kind.KEYWORD:
                    self.definition()
                    continue
                self.i = start
            node = self.text_or_action()
            if isinstance(node, n.EndNode | n.ElseNode):
                msg = f"unexpected {node}"
                raise self.error(msg)
            root.nodes.append(node)
        self.add(n.Tree(self.parse_name, self.parse_name, self.text, root))

    def add(self, tree: n.Tree) -> None:
        old = self.trees.get(tree.name)
        if old is None or old.is_empty():
            self.trees[tree.name] = tree
        elif not tree.is_empty():
            msg = f"template: multiple definition of template {quote_name(tree.name)}"
            raise self.error(msg)

    def definition(self) -> None:
        tok = self.next_non_space()
        if tok.kind not in (Kind.STRING, Kind.RAWSTRING):
            raise self.unexpected(tok, "define clause")
        name = self.unquote(tok)
        self.expect(Kind.RIGHT, "define clause")
        self.template_body(name, "define clause")

    def template_body(self, name: str, clause: str) -> None:
        """Parse a ``define`` or ``block`` body up to its ``{{end}}`` and add it as ``name``.

        The body starts with only ``$`` defined, as a template of its own does.
        """
        saved, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved
        if not isinstance(end, n.EndNode):
            msg = f"unexpected {end} in {clause}"
            raise self.error(msg)
        self.add(n.Tree(name, self.parse_name, self.text, body))

    def item_list(self) -> tuple[n.ListNode, n.Node]:
        body = n.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().kind is not Kind.EOF:
            if self.peek().kind is Kind.ERROR:
                raise self.error(self.next().val)
            node = self.text_or_action()
            if isinstance(node, n.EndNode | n.ElseNode):
                return body, node
            body.nodes.append(node)
        msg = "unexpected EOF"
        raise self.error(msg)

    def text_or_action(self) -> n.Node:
        tok = self.next_non_space()
        if tok.kind is Kind.TEXT:
            return n.TextNode(tok.pos, tok.val)
        if tok.kind is Kind.LEFT:
            return self.action()
        raise self.unexpected(tok, "input")

    def action(self) -> n.Node:
        tok = self.next_non_space()
        if tok.kind is Kind.KEYWORD:
            word = tok.val
            if word in ("if", "range", "with"):
                return self.control(word)
            if word == "else":
                return self.else_control()
            if word == "end":
                return n.EndNode(self.expect(Kind.RIGHT, "end").pos)
            if word == "template":
                return self.template_control()
            if word == "block":
                return self.block_control()
            if word in ("break", "continue"):
                after = self.next_non_space()
                if after.kind is not Kind.RIGHT:
                    raise self.unexpected(after, "{{" + word + "}}")
                if self.range_depth == 0:
                    raise self.error("{{" + word + "}} outside {{range}}")
                return n.LoopControlNode(tok.pos, word)
        self.backup()
        return n.ActionNode(self.peek().pos, self.pipeline("command", Kind.RIGHT))

    def control(self, word: str) -> n.Node:
        depth = len(self.vars)
        pipe = self.pipeline(word, Kind.RIGHT)
        if word == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if word == "range":
            self.range_depth -= 1
        else_body: n.ListNode | None = None
        if isinstance(nxt, n.ElseNode):
            if word == "if" and self.peek().kind is Kind.KEYWORD and self.peek().val == "if":
                self.next()
                else_body = n.ListNode(nxt.pos, [self.control("if")])
            else:
                else_body, nxt = self.item_list()
                if not isinstance(nxt, n.EndNode):
                    msg = f"expected end; found {nxt}"
                    raise self.error(msg)
        del self.vars[depth:]
        return n.BranchNode(pipe.pos, word, pipe, body, else_body)

    def else_control(self) -> n.Node:
        peek = self.peek_non_space()
        if peek.kind is Kind.KEYWORD and peek.val == "if":
            self.next_non_space()
            self.backup()
            return n.ElseNode(peek.pos)
        return n.ElseNode(self.expect(Kind.RIGHT, "else").pos)

    def template_name(self, context: str) -> tuple[Token, str]:
        tok = self.next_non_space()
        if tok.kind not in (Kind.STRING, Kind.RAWSTRING):
            raise self.unexpected(tok, context)
        return tok, self.unquote(tok)

    def template_control(self) -> n.Node:
        tok, name = self.template_name("template clause")
        pipe = None
        if self.next_non_space().kind is not Kind.RIGHT:
            self.backup()
            pipe = self.pipeline("template clause", Kind.RIGHT)
        return n.TemplateNode(tok.pos, name, pipe)

    def block_control(self) -> n.Node:
        tok, name = self.template_name("block clause")
        pipe = self.pipeline("block clause", Kind.RIGHT)
        self.template_body(name, "block clause")
        return n.TemplateNode(tok.pos, name, pipe)

    # -- pipelines ------------------------------------------------------------------------

    def pipeline(self, context: str, end: Kind) -> n.PipeNode:
        pipe = n.PipeNode(self.peek_non_space().pos)
        self.declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok.kind is end:
                if not pipe.cmds:
                    msg = f"missing value for {context}"
                    raise self.error(msg)
                for i, cmd in enumerate(pipe.cmds[1:]):
                    if isinstance(cmd.args[0], _CONSTANT_HEADS):
                        msg = f"non executable command in pipeline stage {i + 2}"
                        raise self.error(msg)
                return pipe
            if tok.kind in _OPERAND_START or (tok.kind is Kind.KEYWORD and tok.val == "nil"):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def declarations(self, pipe: n.PipeNode, context: str) -> None:
        while self.peek_non_space().kind is Kind.VARIABLE:
            start = self.i
            var = self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.kind in (Kind.ASSIGN, Kind.DECLARE):
                pipe.is_assign = nxt.kind is Kind.ASSIGN
                self.next_non_space()
                pipe.decl.append(n.VariableNode(var.pos, [var.val]))
                self.vars.append(var.val)
                return
            if nxt.kind is Kind.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(n.VariableNode(var.pos, [var.val]))
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in (Kind.VARIABLE, Kind.RIGHT, Kind.RPAREN):
                        continue
                    msg = "range can only initialize variables"
                    raise self.error(msg)
                msg = f"too many declarations in {context}"
                raise self.error(msg)
            del after
            self.i = start
            return

    def command(self) -> n.CommandNode:
        cmd = n.CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind is Kind.SPACE:
                continue
            if tok.kind in (Kind.RIGHT, Kind.RPAREN):
                self.backup()
            elif tok.kind is not Kind.PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            msg = "empty command"
            raise self.error(msg)
        return cmd

    def operand(self) -> n.Node | None:
        node = self.term()
        if node is None or self.peek().kind is not Kind.FIELD:
            return node
        chain = n.ChainNode(self.peek().pos, node)
        while self.peek().kind is Kind.FIELD:
            chain.fields.append(self.next().val[1:])
        if isinstance(node, n.FieldNode):
            return n.FieldNode(chain.pos, node.ident + chain.fields)
        if isinstance(node, n.VariableNode):
            return n.VariableNode(chain.pos, node.ident + chain.fields)
        if isinstance(node, _CONSTANT_HEADS):
            msg = f"unexpected . after term {quote_name(str(node))}"
            raise self.error(msg)
        return chain

    def term(self) -> n.Node | None:
        tok = self.next_non_space()
        kind = tok.kind
        if kind is Kind.IDENT:
            if tok.val not in self.functions:
                msg = f"function {quote_name(tok.val)} not defined"
                raise self.error(msg)
            return n.IdentifierNode(tok.pos, tok.val)
        if kind is Kind.DOT:
            return n.DotNode(tok.pos)
        if kind is Kind.KEYWORD and tok.val == "nil":
            return n.NilNode(tok.pos)
        if kind is Kind.VARIABLE:
            if tok.val not in self.vars:
                msg = f"undefined variable {quote_name(tok.val)}"
                raise self.error(msg)
            return n.VariableNode(tok.pos, [tok.val])
        if kind is Kind.FIELD:
            return n.FieldNode(tok.pos, [tok.val[1:]])
        if kind is Kind.BOOL:
            return n.BoolNode(tok.pos, tok.val == "true")
        if kind in (Kind.NUMBER, Kind.CHARCONST):
            return self.number(tok)
        if kind is Kind.LPAREN:
            return self.pipeline("parenthesized pipeline", Kind.RPAREN)
        if kind in (Kind.STRING, Kind.RAWSTRING):
            return n.StringNode(tok.pos, tok.val, self.unquote(tok))
        self.backup()
        return None

    def unquote(self, tok: Token) -> str:
        try:
            return unquote(tok.val)
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def number(self, tok: Token) -> n.NumberNode:
        if tok.kind is Kind.CHARCONST:
            rune = ord(self.unquote(tok))
            return n.NumberNode(tok.pos, tok.val, True, True, rune, float(rune))
        try:
            return number_node(tok.pos, tok.val)
        except ValueError as exc:
            raise self.error(str(exc)) from None


def quote_name(text: str) -> str:
    """``%q`` of a name in an error."""
    return quote(text)


def parse(text: str, name: str, functions: Container[str]) -> dict[str, n.Tree]:
    """Parse ``text`` (named ``name``); return its trees by template name."""
    trees: dict[str, n.Tree] = {}
    _Parser(text, name, functions, trees).parse()
    return trees
