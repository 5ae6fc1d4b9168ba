"""Go text/template's lexer (``text/template/parse/lex.go``): text, actions and their tokens.

Positions are byte offsets into the UTF-8 text, as Go reports them in error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from watcher.gotemplate.strconv import quote


class Kind(Enum):
    """Token kinds, as ``itemType`` in Go."""

    ERROR = auto()
    EOF = auto()
    TEXT = auto()
    COMMENT = auto()
    LEFT = auto()
    RIGHT = auto()
    SPACE = auto()
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    CHAR = auto()  # a lone printable ASCII character such as ','
    DECLARE = auto()
    ASSIGN = auto()
    BOOL = auto()
    NUMBER = auto()
    CHARCONST = auto()
    STRING = auto()
    RAWSTRING = auto()
    VARIABLE = auto()
    FIELD = auto()
    DOT = auto()
    IDENT = auto()
    KEYWORD = auto()  # block break continue define else end if nil range template with


KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "nil", "range", "template"}
    | {"with"}
)
_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Token:
    """One lexed item: its kind, text, byte position and line."""

    kind: Kind
    val: str
    pos: int
    line: int

    def __str__(self) -> str:
        """How Go's parser names a token in "unexpected ..." errors (``item.String``)."""
        if self.kind is Kind.EOF:
            return "EOF"
        if self.kind is Kind.ERROR:
            return self.val
        if self.kind is Kind.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return quote(self.val[:10]) + "..."
        return quote(self.val)


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


class Lexer:
    """Turn template text into tokens; errors become one ERROR token and stop the stream."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self._bytes = [0]  # byte offset of each character index, built lazily
        acc = 0
        for ch in text:
            acc += len(ch.encode("utf-8", "surrogatepass"))
            self._bytes.append(acc)
        self.i = 0
        self.line = 1
        self.paren = 0

    def _emit(self, kind: Kind, start: int, end: int, line: int) -> None:
        self.tokens.append(Token(kind, self.text[start:end], self._bytes[start], line))

    def _error(self, message: str) -> None:
        self.tokens.append(Token(Kind.ERROR, message, self._bytes[self.i], self.line))

    def run(self) -> list[Token]:
        """Lex the whole text."""
        text = self.text
        while True:
            start = self.i
            j = text.find("{{", start)
            if j < 0:
                if start < len(text):
                    self._emit(Kind.TEXT, start, len(text), self.line)
                    self.line += text.count("\n", start)
                self.tokens.append(Token(Kind.EOF, "", self._bytes[len(text)], self.line))
                return self.tokens
            trim = text.startswith("-", j + 2) and text[j + 3 : j + 4] in tuple(_SPACE)
            end = j
            if trim:
                while end > start and text[end - 1] in _SPACE:
                    end -= 1
            if end > start:
                self._emit(Kind.TEXT, start, end, self.line)
            self.line += text.count("\n", start, j)
            self.i = j + (4 if trim else 2)
            if not self._action(j):
                return self.tokens

    def _trim_after(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _SPACE:
            if self.text[self.i] == "\n":
                self.line += 1
            self.i += 1

    def _right_delim(self) -> tuple[bool, bool]:
        """Whether a right delimiter starts here, and whether it trims (`` -}}``)."""
        text, i = self.text, self.i
        if text.startswith("}}", i):
            return True, False
        if text[i : i + 1] in tuple(_SPACE) and text.startswith("-}}", i + 1):
            return True, True
        return False, False

    def _action(self, left: int) -> bool:
        text = self.text
        self._emit(Kind.LEFT, left, left + 2, self.line)
        if text.startswith("/*", self.i):
            close = text.find("*/", self.i + 2)
            if close < 0:
                self._error("unclosed comment")
                return False
            self.line += text.count("\n", self.i, close)
            self.i = close + 2
            self.tokens.pop()
            is_delim, trim = self._right_delim()
            if not is_delim:
                self._error("comment ends before closing delimiter")
                return False
            self.i += 4 if trim else 2
            if trim:
                self._trim_after()
            return True
        while True:
            is_delim, trim = self._right_delim()
            if is_delim and self.paren == 0:
                start = self.i + (1 if trim else 0)
                self.i += 4 if trim else 2
                self._emit(Kind.RIGHT, start, start + (3 if trim else 2), self.line)
                if trim:
                    self._trim_after()
                return True
            if is_delim:
                self._error("unclosed left paren")
                return False
            if self.i >= len(text):
                self._error("unclosed action")
                return False
            if not self._inside():
                return False

    def _inside(self) -> bool:
        text, i, line = self.text, self.i, self.line
        ch = text[i]
        if ch in _SPACE:
            j = i
            while j < len(text) and text[j] in _SPACE:
                j += 1
                self.i = j
                if self._right_delim() == (True, True):
                    break
            self.line += text.count("\n", i, self.i)
            self._emit(Kind.SPACE, i, self.i, line)
            return True
        self.i += 1
        simple = {"|": Kind.PIPE, "=": Kind.ASSIGN, "(": Kind.LPAREN, ")": Kind.RPAREN}
        if ch in simple:
            if ch == "(":
                self.paren += 1
            elif ch == ")":
                self.paren -= 1
                if self.paren < 0:
                    self._error("unexpected right paren")
                    return False
            self._emit(simple[ch], i, self.i, line)
            return True
        if ch == ":":
            if text[self.i : self.i + 1] != "=":
                self._error("expected :=")
                return False
            self.i += 1
            self._emit(Kind.DECLARE, i, self.i, line)
            return True
        if ch == '"':
            return self._quote(i, '"', Kind.STRING, "unterminated quoted string")
        if ch == "'":
            return self._quote(i, "'", Kind.CHARCONST, "unterminated character constant")
        if ch == "`":
            close = text.find("`", self.i)
            if close < 0:
                self._error("unterminated raw quoted string")
                return False
            self.i = close + 1
            self._emit(Kind.RAWSTRING, i, self.i, line)
            self.line += text.count("\n", i, self.i)
            return True
        if ch == "$":
            return self._word(i, Kind.VARIABLE)
        if ch == "." and not text[self.i : self.i + 1].isdigit():
            if self.i < len(text) and _alnum(text[self.i]):
                return self._word(i, Kind.FIELD)
            return self._terminated(i, Kind.DOT)
        if ch in "+-." or ch.isdigit():
            return self._number(i)
        if _alnum(ch):
            self.i = i
            return self._word(i, Kind.IDENT)
        if ch.isascii() and ch.isprintable():
            self._emit(Kind.CHAR, i, self.i, line)
            return True
        self.i = i
        self._error(f"unrecognized character in action: U+{ord(ch):04X} '{ch}'")
        return False

    def _at_terminator(self) -> bool:
        if self.i >= len(self.text):
            return True
        ch = self.text[self.i]
        return ch in _SPACE or ch in ".,|:()" or self.text.startswith("}}", self.i)

    def _terminated(self, start: int, kind: Kind) -> bool:
        if not self._at_terminator():
            self._error(f"bad character U+{ord(self.text[self.i]):04X} '{self.text[self.i]}'")
            return False
        self._emit(kind, start, self.i, self.line)
        return True

    def _word(self, start: int, kind: Kind) -> bool:
        text = self.text
        j = self.i if kind is Kind.IDENT else start + 1
        while j < len(text) and _alnum(text[j]):
            j += 1
        self.i = j
        word = text[start:j]
        if kind is Kind.IDENT:
            if word in KEYWORDS:
                kind = Kind.KEYWORD
            elif word in ("true", "false"):
                kind = Kind.BOOL
        return self._terminated(start, kind)

    def _quote(self, start: int, mark: str, kind: Kind, unterminated: str) -> bool:
        text, j = self.text, self.i
        while True:
            if j >= len(text) or text[j] == "\n":
                self.i = j
                self._error(unterminated)
                return False
            if text[j] == "\\" and j + 1 < len(text) and text[j + 1] != "\n":
                j += 2
                continue
            if text[j] == mark:
                break
            j += 1
        self.i = j + 1
        self._emit(kind, start, self.i, self.line)
        return True

    def _number(self, start: int) -> bool:
        text, j = self.text, start
        if text[j] in "+-":
            j += 1
        digits = "0123456789_"
        if text.startswith(("0x", "0X"), j):
            j += 2
            digits = "0123456789abcdefABCDEF_"
        elif text.startswith(("0o", "0O", "0b", "0B"), j):
            j += 2
        while j < len(text) and text[j] in digits:
            j += 1
        if j < len(text) and text[j] == ".":
            j += 1
            while j < len(text) and text[j] in digits:
                j += 1
        exp = "pP" if len(digits) > 11 else "eE"
        if j < len(text) and text[j] in exp:
            j += 1
            if j < len(text) and text[j] in "+-":
                j += 1
            while j < len(text) and text[j] in "0123456789_":
                j += 1
        if j < len(text) and text[j] == "i":
            j += 1
        self.i = j
        if j < len(text) and _alnum(text[j]):
            self.i = j + 1
            self._error(f"bad number syntax: {text[start : j + 1]!r}".replace("'", '"'))
            return False
        self._emit(Kind.NUMBER, start, j, self.line)
        return True
