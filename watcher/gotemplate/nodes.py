"""Parse-tree nodes of Go text/template (``text/template/parse/node.go``).

Each node keeps its byte position (for ``name:line:col`` in errors) and prints as Go's
``Node.String()`` does, which is what Go shows in ``executing "x" at <...>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watcher.gotemplate.strconv import quote


@dataclass(eq=False)
class Node:
    """A node; ``pos`` is a byte offset into the text of the tree it came from."""

    pos: int


@dataclass(eq=False)
class TextNode(Node):
    """Literal text."""

    text: str

    def __str__(self) -> str:
        return quote(self.text)


@dataclass(eq=False)
class DotNode(Node):
    """``.``"""

    def __str__(self) -> str:
        return "."


@dataclass(eq=False)
class NilNode(Node):
    """``nil``"""

    def __str__(self) -> str:
        return "nil"


@dataclass(eq=False)
class BoolNode(Node):
    """``true`` / ``false``"""

    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(eq=False)
class NumberNode(Node):
    """A number constant and the Go types it can be."""

    text: str
    is_int: bool = False
    is_float: bool = False
    int_value: int = 0
    float_value: float = 0.0

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False)
class StringNode(Node):
    """A quoted string; ``quoted`` is the original text."""

    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@dataclass(eq=False)
class FieldNode(Node):
    """``.A.B``"""

    ident: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass(eq=False)
class VariableNode(Node):
    """``$x.A.B``"""

    ident: list[str]

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass(eq=False)
class IdentifierNode(Node):
    """A function name."""

    ident: str

    def __str__(self) -> str:
        return self.ident


@dataclass(eq=False)
class ChainNode(Node):
    """``(pipeline).A.B``"""

    node: Node
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        inner = str(self.node)
        if isinstance(self.node, PipeNode):
            inner = f"({inner})"
        return inner + "".join("." + f for f in self.fields)


@dataclass(eq=False)
class CommandNode(Node):
    """One stage of a pipeline: an operand and its arguments."""

    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


@dataclass(eq=False)
class PipeNode(Node):
    """``$x := a | b``"""

    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass(eq=False)
class ListNode(Node):
    """A sequence of nodes."""

    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass(eq=False)
class ActionNode(Node):
    """``{{pipeline}}``"""

    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(eq=False)
class BranchNode(Node):
    """``if`` / ``range`` / ``with``."""

    keyword: str
    pipe: PipeNode
    body: ListNode
    else_body: ListNode | None = None

    def __str__(self) -> str:
        out = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.body)
        if self.else_body is not None:
            out += "{{else}}" + str(self.else_body)
        return out + "{{end}}"


@dataclass(eq=False)
class TemplateNode(Node):
    """``{{template "name" pipeline}}``"""

    name: str
    pipe: PipeNode | None = None

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + quote(self.name) + "}}"
        return "{{template " + quote(self.name) + " " + str(self.pipe) + "}}"


@dataclass(eq=False)
class LoopControlNode(Node):
    """``{{break}}`` / ``{{continue}}``"""

    keyword: str

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


@dataclass(eq=False)
class EndNode(Node):
    """``{{end}}`` (only while parsing)."""

    def __str__(self) -> str:
        return "{{end}}"


@dataclass(eq=False)
class ElseNode(Node):
    """``{{else}}`` (only while parsing)."""

    def __str__(self) -> str:
        return "{{else}}"


@dataclass(eq=False)
class Tree:
    """One named template: its root list, the text it was parsed from and that text's name."""

    name: str
    parse_name: str
    text: str
    root: ListNode

    def location(self, node: Node) -> str:
        """Go's ``ErrorContext`` location: ``parseName:line:col`` (col 0-based, in bytes)."""
        data = self.text.encode("utf-8", "surrogatepass")[: node.pos]
        newline = data.rfind(b"\n")
        col = node.pos if newline < 0 else node.pos - (newline + 1)
        line = 1 + data.count(b"\n")
        return f"{self.parse_name}:{line}:{col}"

    def is_empty(self) -> bool:
        """Go's ``IsEmptyTree``: only whitespace text."""
        return all(isinstance(n, TextNode) and not n.text.strip() for n in self.root.nodes)
