"""Alert templates render like Prometheus's Go templates and reach nothing else."""

from __future__ import annotations

import pytest

from watcher.errors import RuleError
from watcher.rules.templates import parse_template

LABELS = {"job": "wallet", "user": "86000001"}


def render(text: str, value: float = 1234.5678) -> str:
    return parse_template(text, "__alert_Foo").expand(
        LABELS, value, {"cluster": "prod"}, "http://w"
    )


def expansion_error(message: str) -> str:
    """Prometheus's inline marker for a failed expansion of rule Foo."""
    return f"<error expanding template: error executing template __alert_Foo: {message}>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ $labels.job }} low", "wallet low"),
        ("{{ $value }}", "1234.5678"),
        ("{{ $value | humanize }}", "1.235k"),
        ('{{ printf "%.2f" $value }}', "1234.57"),
        ('{{ $value | printf "%.1f" }}', "1234.6"),
        ("{{ humanizeDuration 3600 }}", "1h 0m 0s"),
        ("{{ humanizeDuration 90061 }}", "1d 1h 1m 1s"),
        ("{{ humanizeDuration 0.25 }}", "250ms"),
        ("{{ humanizeTimestamp 1700000000 }}", "2023-11-14 22:13:20 +0000 UTC"),
        ("{{ humanize 0.0012 }}", "1.2m"),
        ("{{ $externalLabels.cluster }}", "prod"),
        ("{{ $externalURL }}", "http://w"),
        ("{{ $labels.missing }}|", "|"),
        ("{{ .Labels.user }}", "86000001"),
        ("{{ if gt $value 1000.0 }}high{{ else }}low{{ end }}", "high"),
        ("a {{- $labels.job -}} b", "awalletb"),
        ("{{/* comment */}}x", "x"),
    ],
)
def test_render(text: str, expected: str) -> None:
    """Each construct renders as Prometheus renders it."""
    assert expected == render(text)


def test_large_values_print_like_go() -> None:
    """Go prints 100000 in full and 1e+06 in exponent form (fmt %v)."""
    assert (
        render("{{ $value }}", 1e5),
        render("{{ $value }}", 1e6),
    ) == ("100000", "1e+06")


def test_runtime_error_is_rendered_inline() -> None:
    """A failing function renders Prometheus's error marker (text and position as promtool)."""
    assert expansion_error(
        'template: __alert_Foo:1:115: executing "__alert_Foo" at <humanize "abc">:'
        ' error calling humanize: strconv.ParseFloat: parsing "abc": invalid syntax'
    ) == render('{{ humanize "abc" }}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ $secret }}", 'undefined variable "$secret"'),
        ("{{ env }}", 'function "env" not defined'),
        ("{{ $labels.x ", "unclosed action"),
        ("{{ if true }}x", "template: __alert_:1: unexpected EOF"),
    ],
)
def test_nothing_else_is_reachable(text: str, message: str) -> None:
    """Unknown variables and functions and broken structure are load errors (Go's texts)."""
    with pytest.raises(RuleError, match=message.replace("{", r"\{").replace("$", r"\$")):
        parse_template(text)


def test_attribute_access_on_value_fails_safely() -> None:
    """Fields of non-maps cannot be read (no Python attribute access)."""
    assert expansion_error(
        'template: __alert_Foo:1:121: executing "__alert_Foo" at <$value.__class__>:'
        " can't evaluate field __class__ in type float64"
    ) == render("{{ $value.__class__ }}")


def test_range_and_template_run_as_in_prometheus() -> None:
    """range over a map is in key order; an undefined template fails at expansion, not load."""
    assert (
        "job=wallet;user=86000001;",
        expansion_error(
            'template: __alert_Foo:1:124: executing "__alert_Foo" at <{{template "x"}}>:'
            ' template "x" not defined'
        ),
    ) == (
        render("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}"),
        render('{{ template "x" }}'),
    )


def test_bad_template_regex_is_reported_inline_and_not_on_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A bad ``match`` pattern is Go's inline error; RE2 writes nothing raw to stderr."""
    assert expansion_error(
        'template: __alert_Foo:1:115: executing "__alert_Foo" at <match "(" "abc">:'
        " error calling match: error parsing regexp: missing ): (: `(`"
    ) == render('{{ match "(" "abc" }}')
    assert ("", "") == capfd.readouterr()
