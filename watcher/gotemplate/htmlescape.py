"""Go's ``html/template`` escaping, for Alertmanager's ``ExecuteHTMLString``.

Alertmanager renders email ``html`` (and Telegram messages in ``parse_mode: HTML``) with Go's
``html/template``: every ``{{ … }}`` output is escaped for where it lands in the HTML, and HTML
comments in the template text are dropped (https://pkg.go.dev/html/template). Go decides the
context statically; here it is tracked over the output as it is written, which gives the same
answer for every template ``html/template`` accepts (it rejects templates whose branches end
in different contexts). The contexts and escapers follow Go's ``escape.go``:

- text and RCDATA (``<title>``, ``<textarea>``): ``"&'+<>`` and NUL as entities
  (``htmlEscaper``); a ``safeHtml`` value is written as it is in text;
- attribute values: the same, plus whitespace, ``=`` and backquote when unquoted;
- URL attributes (``href``, ``src``, names containing ``url``/``uri``/``src``...): at the
  start a scheme other than http, https or mailto becomes ``#ZgotmplZ``; before ``?``/``#``
  the URL is normalised (``urlNormalizer``), after it percent-encoded (``urlEscaper``),
  then attribute-escaped. A pipeline that already ends in ``urlquery`` or ``html`` is not
  escaped twice for the same purpose (Go's ``ensurePipelineContains``).

Not followed: the JavaScript and CSS contexts (``<script>``, ``on*=``, ``style=``); values
there are escaped as attribute or HTML text, which is safe but not Go's JSON-style output.
"""

from __future__ import annotations

import re

_HTML = {"\0": "\ufffd", '"': "&#34;", "&": "&amp;", "'": "&#39;", "+": "&#43;"}
_HTML |= {"<": "&lt;", ">": "&gt;"}
_NOSPACE = {**_HTML, "\t": "&#9;", "\n": "&#10;", "\v": "&#11;", "\f": "&#12;", "\r": "&#13;"}
_NOSPACE |= {" ": "&#32;", "=": "&#61;", "`": "&#96;"}
_HTML_RE = re.compile("[\0\"&'+<>]")
_NOSPACE_RE = re.compile("[\0\"&'+<>\t\n\v\f\r =`]")
_URL_ATTRS = frozenset(
    {"action", "archive", "background", "cite", "classid", "codebase", "data", "formaction"}
    | {"href", "icon", "longdesc", "manifest", "poster", "profile", "src", "usemap", "xmlns"}
)
_RAW = ("script", "style")
_RCDATA = ("title", "textarea")
_NORM_KEEP = frozenset("!#$&*+,/:;=?@[]-._~%")
_ESC_KEEP = frozenset("-._~")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9:-]*")

TEXT, TAG, ATTR_NAME, AFTER_NAME, BEFORE_VALUE, VALUE, RCDATA, RAW, COMMENT = range(9)


class SafeHTML(str):
    """A string ``safeHtml`` marked as HTML: text context writes it unescaped (Go's
    ``template.HTML``)."""

    __slots__ = ()


def html_escape(
    text: str, table: dict[str, str] = _HTML, pattern: re.Pattern[str] = _HTML_RE
) -> str:
    """Go's ``htmlEscaper``."""
    return pattern.sub(lambda m: table[m.group()], text)


def _percent(text: str, keep: frozenset[str]) -> str:
    out = []
    for ch in text:
        if (ch.isascii() and ch.isalnum()) or ch in keep:
            out.append(ch)
        else:
            out.extend(f"%{b:02x}" for b in ch.encode())
    return "".join(out)


def url_filter(text: str) -> str:
    """``#ZgotmplZ`` for a URL whose scheme is not http, https or mailto."""
    colon = text.find(":")
    scheme = text[:colon].lower() if colon >= 0 and "/" not in text[:colon] else ""
    if scheme and scheme not in ("http", "https", "mailto"):
        return "#ZgotmplZ"
    return text


class HtmlContext:
    """Where in an HTML document the output so far ends; escapes what comes next."""

    def __init__(self) -> None:
        self.state = TEXT
        self.element = ""  # the tag being read, or the RCDATA/raw element we are in
        self.attr = ""
        self.delim = ""  # '"', "'" or " " (unquoted) inside an attribute value
        self.url_part = 0  # 0 start of the URL, 1 before the query, 2 query or fragment
        self.pending = ""  # text held back: it may start a comment or a closing tag

    # -- what the template text does ----------------------------------------------------

    def text(self, text: str) -> str:
        """Template text: advance the context; HTML comments (and CSS ones) are dropped."""
        out: list[str] = []
        text, self.pending = self.pending + text, ""
        i = 0
        while i < len(text):
            i = self._step(text, i, out)
        return "".join(out)

    def value(self, value: object, text: str, last_func: str | None) -> str:
        """An action's output, escaped for the current context (dropped in a comment, as
        Go's ``commentEscaper`` does)."""
        if self.state == COMMENT:
            self.pending = ""
            return ""
        out = self.finish() + self._escape(value, text, last_func)
        self.text_through(out)
        return out

    def finish(self) -> str:
        """Text held back at the end (a ``<`` that did not open a comment)."""
        held, self.pending = self.pending, ""
        return "" if self.state == COMMENT else held

    def text_through(self, text: str) -> None:
        """Advance over escaped output (it cannot open a tag or end an attribute)."""
        if self.state == VALUE and self.attr_kind() == "url" and text.strip():
            if any(c in text for c in "?#"):
                self.url_part = 2
            elif self.url_part == 0:
                self.url_part = 1
        elif self.state in (ATTR_NAME, AFTER_NAME) and text.strip():
            self.state = TAG

    def attr_kind(self) -> str:
        name = self.attr.lower().rsplit(":", 1)[-1]
        if name in _URL_ATTRS or any(part in name for part in ("url", "uri", "src")):
            return "url"
        return "plain"

    def _escape(self, value: object, text: str, last_func: str | None) -> str:
        if self.state == BEFORE_VALUE:  # an unquoted value starts with this action
            self.state, self.delim, self.url_part = VALUE, " ", 0
        state = self.state
        if state == TEXT:
            return text if isinstance(value, SafeHTML) or last_func == "html" else html_escape(text)
        if state in (RCDATA, RAW):
            return text if last_func == "html" else html_escape(text)
        if state != VALUE:
            return text if last_func == "html" else html_escape(text, _NOSPACE, _NOSPACE_RE)
        if self.attr_kind() == "url":
            if self.url_part == 0:
                text = url_filter(text)
            if last_func != "urlquery":
                text = _percent(text, _NORM_KEEP if self.url_part < 2 else _ESC_KEEP)
        if last_func == "html":
            return text
        if self.delim == " ":
            return html_escape(text, _NOSPACE, _NOSPACE_RE)
        return html_escape(text)

    # -- the state machine (a small subset of the HTML tokenizer) -------------------------

    def _step(self, text: str, i: int, out: list[str]) -> int:
        ch = text[i]
        state = self.state
        if state == COMMENT:
            end = text.find("-->", i)
            if end < 0:
                self.pending = text[-2:] if text.endswith(("-", "--")) else ""
                return len(text)
            self.state = TEXT
            return end + 3
        if state == TEXT:
            if ch != "<":
                out.append(ch)
                return i + 1
            rest = text[i:]
            if len(rest) < 4 and "<!--".startswith(rest):
                self.pending = rest
                return len(text)
            if rest.startswith("<!--"):
                self.state = COMMENT
                return i + 4
            closing = rest[1:2] == "/"
            m = _TAG_NAME.match(text, i + 1 + closing)
            if m is not None:
                self.element = "" if closing else m.group().lower()
                self.state = TAG
                out.append(text[i : m.end()])
                return m.end()
            out.append(ch)
            return i + 1
        if state in (RCDATA, RAW):
            close = f"</{self.element}"
            if text[i:].lower().startswith(close):
                self.state, self.element = TEXT, ""
                out.append(text[i : i + len(close)])
                self.state = TAG
                return i + len(close)
            if state == RAW and text.startswith("/*", i):
                end = text.find("*/", i + 2)
                return len(text) if end < 0 else end + 2
            out.append(ch)
            return i + 1
        out.append(ch)
        if state == TAG:
            if ch == ">":
                self._end_tag()
            elif not ch.isspace() and ch != "/":
                self.state, self.attr = ATTR_NAME, ch
        elif state == ATTR_NAME:
            if ch == "=":
                self.state = BEFORE_VALUE
            elif ch.isspace():
                self.state = AFTER_NAME
            elif ch == ">":
                self._end_tag()
            else:
                self.attr += ch
        elif state == AFTER_NAME:
            if ch == "=":
                self.state = BEFORE_VALUE
            elif ch == ">":
                self._end_tag()
            elif not ch.isspace():
                self.state, self.attr = ATTR_NAME, ch
        elif state == BEFORE_VALUE:
            if ch in "\"'":
                self.state, self.delim, self.url_part = VALUE, ch, 0
            elif ch == ">":
                self._end_tag()
            elif not ch.isspace():
                self.state, self.delim, self.url_part = VALUE, " ", 1 if ch not in "?#" else 2
        elif state == VALUE:
            if (self.delim == " " and ch.isspace()) or ch == self.delim:
                self.state = TAG
            elif self.delim == " " and ch == ">":
                self._end_tag()
            elif ch in "?#":
                self.url_part = 2
            elif not ch.isspace() and self.url_part == 0:
                self.url_part = 1
        return i + 1

    def _end_tag(self) -> None:
        element, self.element = self.element, ""
        if element in _RCDATA:
            self.state, self.element = RCDATA, element
        elif element in _RAW:
            self.state, self.element = RAW, element
        else:
            self.state = TEXT
