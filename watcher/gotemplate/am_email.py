"""``email.default.html`` and ``telegram.default.message``, written for this engine.

Alertmanager's email is Mailgun's transactional template (MIT licence, Copyright (c) 2014
Mailgun) with its stylesheet inlined into ``style`` attributes by a CSS inliner. Here the
stylesheet is a table of rules and ``_tag`` inlines it the way that inliner does (a property
declared again moves to the end; ``width``/``valign``/``align``/``bgcolor`` attributes copied
from the styles on tables and cells), so the rendered mail is the one Alertmanager 0.25 sends,
byte for byte (``tests/test_notify_email_alertmanager.py``). The template runs through the
``html/template`` escaper, which also drops the HTML comment (the licence notice) from the
output, as Go does.
"""

from __future__ import annotations

_FONT = "'Helvetica Neue', Helvetica, Arial, sans-serif"
_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "*": (("margin", "0"), ("font-family", _FONT), ("box-sizing", "border-box")),
    "*size": (("font-size", "14px"),),
    "body": (
        ("-webkit-font-smoothing", "antialiased"),
        ("-webkit-text-size-adjust", "none"),
        ("height", "100%"),
        ("line-height", "1.6em"),
        ("background-color", "#f6f6f6"),
        ("width", "100%"),
    ),
    "td": (("vertical-align", "top"),),
    "a": (("color", "#348eda"), ("text-decoration", "underline")),
    ".body-wrap": (("background-color", "#f6f6f6"), ("width", "100%")),
    ".container": (
        ("display", "block"),
        ("max-width", "600px"),
        ("margin", "0 auto"),
        ("clear", "both"),
    ),
    ".content": (("max-width", "600px"), ("margin", "0 auto"), ("display", "block")),
    ".content+": (("padding", "20px"),),
    ".main": (
        ("background-color", "#fff"),
        ("border", "1px solid #e9e9e9"),
        ("border-radius", "3px"),
    ),
    ".content-wrap": (("padding", "30px"),),
    ".content-block": (("padding", "0 0 20px"),),
    ".footer": (("width", "100%"), ("clear", "both"), ("color", "#999"), ("padding", "20px")),
    ".footer *": (("color", "#999"), ("font-size", "12px")),
    ".btn-primary": (
        ("text-decoration", "none"),
        ("color", "#FFF"),
        ("background-color", "#348eda"),
        ("border", "solid #348eda"),
        ("border-width", "10px 20px"),
        ("line-height", "2em"),
        ("font-weight", "bold"),
        ("text-align", "center"),
        ("cursor", "pointer"),
        ("display", "inline-block"),
        ("border-radius", "5px"),
        ("text-transform", "capitalize"),
    ),
    ".aligncenter": (("text-align", "center"),),
    ".alert": (
        ("font-size", "16px"),
        ("color", "#fff"),
        ("font-weight", "500"),
        ("padding", "20px"),
        ("text-align", "center"),
        ("border-radius", "3px 3px 0 0"),
    ),
    ".alert-warning": (("background-color", "#E6522C"),),
    ".alert-good": (("background-color", "#68B90F"),),
}
# What the stylesheet's media query keeps for small screens (the inliner leaves it in <style>).
_MOBILE = (
    ("body", "padding: 0"),
    ("h1,\nh2,\nh3,\nh4", "font-weight: 800", "margin: 20px 0 5px"),
    ("h1", "font-size: 22px"),
    ("h2", "font-size: 18px"),
    ("h3", "font-size: 16px"),
    (".container", "padding: 0", "width: 100%"),
    (".content", "padding: 0"),
    (".content-wrap", "padding: 10px"),
    (".invoice", "width: 100%"),
)


def _tag(name: str, attrs: str, *selectors: str) -> str:
    """``<name attrs style="…">`` with the rules of ``selectors`` inlined, in order."""
    decls: dict[str, str] = {}
    for selector in ("*", "*size", name, *selectors):
        for prop, value in _RULES.get(selector, ()):
            decls.pop(prop, None)
            decls[prop] = value
    style = " ".join(f"{prop}: {value};" for prop, value in decls.items())
    extra = ""
    if name in ("table", "td"):
        copied = (("width", "width"), ("vertical-align", "valign"), ("text-align", "align"))
        for prop, attr in (*copied, ("background-color", "bgcolor")):
            if prop in decls and f"{attr}=" not in attrs:
                extra += f' {attr}="{decls[prop]}"'
    space = " " if attrs else ""
    return f'<{name}{space}{attrs} style="{style}"{extra}>'


def _media() -> str:
    blocks = "\n\n".join(
        f"  {sel} {{\n" + "".join(f"    {decl} !important;\n" for decl in decls) + "  }"
        for sel, *decls in _MOBILE
    )
    return "@media only screen and (max-width: 640px) {\n" + blocks + "\n}"


def _alert_rows(which: str) -> str:
    """One table row per alert of ``.Alerts.<which>``: labels, annotations, source link."""
    br = _tag("br", "")
    strong = _tag("strong", "")
    block = _tag("td", 'class="content-block"', ".content-block")
    link = _tag("a", 'href="{{ .GeneratorURL }}"')
    pad = " " * 20
    return (
        f"{{{{ range .Alerts.{which} }}}}\n"
        f"                {_tag('tr', '')}\n"
        f"                  {block}\n"
        f"{pad}{strong}Labels</strong>{br}\n"
        f"{pad}{{{{ range .Labels.SortedPairs }}}}{{{{ .Name }}}} = {{{{ .Value }}}}{br}"
        "{{ end }}\n"
        f"{pad}{{{{ if gt (len .Annotations) 0 }}}}{strong}Annotations</strong>{br}{{{{ end }}}}\n"
        f"{pad}{{{{ range .Annotations.SortedPairs }}}}{{{{ .Name }}}} = {{{{ .Value }}}}{br}"
        "{{ end }}\n"
        f"{pad}{link}Source</a>{br}\n"
        "                  </td>\n"
        "                </tr>\n"
        "                {{ end }}"
    )


def _header_cell(kind: str, trailing: str) -> str:
    cell = _tag("td", f'class="alert alert-{kind}"', ".alert", f".alert-{kind}")
    return (
        f"            {cell}\n"
        "              {{ .Alerts | len }} alert{{ if gt (len .Alerts) 1 }}s{{ end }} for "
        "{{ range .GroupLabels.SortedPairs }}\n"
        f"                {{{{ .Name }}}}={{{{ .Value }}}}{trailing}\n"
        "              {{ end }}\n"
        "            </td>\n"
    )


def _block_row(inner: str) -> str:
    block = _tag("td", 'class="content-block"', ".content-block")
    return (
        f"                {_tag('tr', '')}\n                  {block}\n"
        f"{inner}                  </td>\n                </tr>\n"
    )


def _email_html() -> str:
    tr = _tag("tr", "")
    strong = _tag("strong", "")
    plain_td = _tag("td", "")
    button = _tag(
        "a", 'href="{{ template "__alertmanagerURL" . }}" class="btn-primary"', ".btn-primary"
    )
    rule = "".join(f"                    {_tag(t, '')}\n" for t in ("br", "hr", "br"))
    footer_td = _tag(
        "td", 'class="aligncenter content-block"', ".content-block", ".aligncenter", ".footer *"
    )
    footer_a = _tag("a", 'href="{{ .ExternalURL }}"', ".footer *")
    html = _tag("html", 'xmlns="http://www.w3.org/1999/xhtml"')
    body = _tag("body", 'itemscope itemtype="http://schema.org/EmailMessage"')
    wrap = _tag("table", 'class="body-wrap"', ".body-wrap")
    container = _tag("td", 'class="container" width="600"', ".container")
    content = _tag("div", 'class="content"', ".content", ".content+")
    main = _tag("table", 'class="main" width="100%" cellpadding="0" cellspacing="0"', ".main")
    wrap_td = _tag("td", 'class="content-wrap"', ".content-wrap")
    inner = _tag("table", 'width="100%" cellpadding="0" cellspacing="0"')
    footer = _tag("div", 'class="footer"', ".footer")
    footer_table = _tag("table", 'width="100%"')
    return (
        '{{ define "email.default.html" }}\n'
        "<!-- Style and HTML derived from Mailgun's transactional-email-templates, "
        "MIT licence, Copyright (c) 2014 Mailgun -->\n"
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        f"{html}\n"
        "<head>\n"
        '<meta name="viewport" content="width=device-width">\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\n'
        '<title>{{ template "__subject" . }}</title>\n'
        f"<style>\n{_media()}\n</style>\n"
        "</head>\n\n"
        f"{body}\n\n"
        f"{wrap}\n"
        f"  {tr}\n"
        f"    {plain_td}</td>\n"
        f"    {container}\n"
        f"      {content}\n"
        f"        {main}\n"
        f"          {tr}\n"
        "            {{ if gt (len .Alerts.Firing) 0 }}\n"
        f"{_header_cell('warning', '')}"
        "            {{ else }}\n"
        f"{_header_cell('good', ' ')}"
        "            {{ end }}\n"
        "          </tr>\n"
        f"          {tr}\n"
        f"            {wrap_td}\n"
        f"              {inner}\n"
        + _block_row(
            f'                    {button}View in {{{{ template "__alertmanager" . }}}}</a>\n'
        )
        + "                {{ if gt (len .Alerts.Firing) 0 }}\n"
        + _block_row(
            f"                    {strong}[{{{{ .Alerts.Firing | len }}}}] Firing</strong>\n"
        )
        + "                {{ end }}\n"
        f"                {_alert_rows('Firing')}\n\n"
        "                {{ if gt (len .Alerts.Resolved) 0 }}\n"
        "                  {{ if gt (len .Alerts.Firing) 0 }}\n"
        + _block_row(rule)
        + "                  {{ end }}\n"
        + _block_row(
            f"                    {strong}[{{{{ .Alerts.Resolved | len }}}}] Resolved</strong>\n"
        )
        + "                {{ end }}\n"
        f"                {_alert_rows('Resolved')}\n"
        "              </table>\n"
        "            </td>\n"
        "          </tr>\n"
        "        </table>\n\n"
        f"        {footer}\n"
        f"          {footer_table}\n"
        f"            {tr}\n"
        f"              {footer_td}{footer_a}"
        'Sent by {{ template "__alertmanager" . }}</a></td>\n'
        "            </tr>\n"
        "          </table>\n"
        "        </div></div>\n"
        "    </td>\n"
        f"    {plain_td}</td>\n"
        "  </tr>\n"
        "</table>\n\n"
        "</body>\n"
        "</html>\n\n"
        "{{ end }}"
    )


# Alertmanager's text: a newline, then per non-empty list "Alerts Firing:" / "Alerts
# Resolved:" with the alert list, each section followed by blank lines as its template's
# line breaks leave them.
TELEGRAM_TEMPLATES = (
    '{{ define "telegram.default.message" }}\n'
    "{{ if gt (len .Alerts.Firing) 0 }}\nAlerts Firing:\n"
    '{{ template "__text_alert_list" .Alerts.Firing }}\n{{ end }}\n'
    "{{ if gt (len .Alerts.Resolved) 0 }}\nAlerts Resolved:\n"
    '{{ template "__text_alert_list" .Alerts.Resolved }}\n{{ end }}\n'
    "{{ end }}"
)

EMAIL_TEMPLATES = _email_html()
