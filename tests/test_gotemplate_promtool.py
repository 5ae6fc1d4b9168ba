"""Rule templates render byte for byte as Prometheus renders them (checked by real promtool).

Each template below is expanded by the watcher; the results become the expected annotations
of a promtool unit test, which real ``promtool test rules`` must then pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from watcher.rules.templates import parse_template

PROMTOOL = shutil.which("promtool")
pytestmark = [
    pytest.mark.external,
    pytest.mark.skipif(
        PROMTOOL is None and os.environ.get("CI") != "true", reason="promtool is not installed"
    ),
]

TEMPLATES = [
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
    "{{ if gt $value 1000.0 }}big{{ else if gt $value 1.0 }}mid{{ else }}small{{ end }}",
    "{{ with $labels.source }}src={{ . }}{{ else }}none{{ end }}",
    '{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" $labels.source }}',
    '{{ block "b" $value }}<{{ . }}>{{ end }}',
    "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
    '{{ printf "%v %s %d %f %g %x %e %q %t" $value $labels.source 42 $value $value 255 $value "q" true }}',
    '{{ printf "%.1f|%+g|%v|%g|%e|%8.2f|%-8.1f|" $value $value $value $value $value $value $value }}',
    '{{ printf "%d" $value }}|{{ printf "%s %s" "a" }}|{{ printf "%s" "a" "b" }}',
    '{{ len $labels }} {{ index $labels "source" }} {{ index $labels "nope" }}|',
    '{{ print 1 2 "a" "b" 3.5 true }}|{{ println "a" 1 }}|',
    "{{ humanize1024 1048576 }} {{ humanizePercentage 0.12345 }} {{ humanize $value }}",
    "{{ humanizeDuration $value }} {{ humanizeTimestamp $value }} {{ humanizeDuration 1e20 }}",
    '{{ title "hello wORLD" }} {{ toUpper "abc" }} {{ toLower "ABC" }}',
    '{{ match "^a.c$" "abc" }} {{ reReplaceAll "(a)(b)" "$2$1${1}x" "abab" }}',
    '{{ args 1 "two" 3.0 }} {{ (args 1 "two").arg1 }} {{ (args 1).arg7 }}',
    '{{ and 1 0 2 }} {{ or 0 "" "x" }} {{ not 0 }} {{ and 1 2 }}',
    '{{ eq $labels.source "a" "tradeboss" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ ge "b" "a" }}',
    "{{ gt $value 1000 }}",
    "{{ .Labels }}|{{ $externalURL }}|{{ $externalLabels }}|{{ .Value }}",
    "{{ 1e6 }} {{ 100000.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 0x1F }} {{ 1_000 }} {{ 010 }} {{ 'a' }}",
    "{{ range $labels }}{{ . }}{{ break }}{{ end }}x{{ range $i, $c := $labels }}{{ continue }}{{ end }}",
    '{{ "a\\tb" | printf "%q" }} {{ `raw\\n` }}',
    "{{ nil }}",
    "{{ .Foo }}",
    '{{ $value | printf "%08.3f" }} {{ printf "%5s|%-5s|%05d|%+d" "ab" "cd" 42 7 }}',
    '{{ printf "%x %X %o %b %c" 255 255 8 5 65 }} {{ printf "%x" "hi" }} {{ printf "%x" 1.5 }}',
    '{{ with $x := $labels.source }}{{ $x }}{{ end }} {{ if and (eq 1 1) (ne "a" "b") }}y{{ end }}',
    '{{ humanize "abc" }}',
    "{{ $labels.source | len }} {{ index $labels }}",
    '{{ printf "%v" (args) }} {{ len "héllo" }}',
    "{{ humanize 0 }} {{ humanize -1234567 }} {{ humanize 0.000001234 }} {{ humanize1024 -2048 }}",
    '{{ humanizeDuration -90061 }} {{ humanizeDuration 0.0015 }} {{ humanizeTimestamp "1700000000.1239" }}',
]

SERIES = {
    "balance": 1234.5678,
    "tiny": -0.000123,
    "pos_inf": float("inf"),
    "neg_inf": float("-inf"),
    "not_a_number": float("nan"),
}


def _promql_value(v: float) -> str:
    if v != v:  # noqa: PLR0124 - NaN
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Inf" if v > 0 else "-Inf"
    return repr(v)


def test_rule_templates_match_promtool(tmp_path: Path) -> None:
    """Every template, on finite, tiny, infinite and NaN values, expands as in Prometheus."""
    annotations = {f"t{i}": text for i, text in enumerate(TEMPLATES)}
    rules = {
        "groups": [
            {
                "name": "g",
                "rules": [{"alert": "T", "expr": "v", "annotations": annotations}],
            }
        ]
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    templates = {k: parse_template(v, "__alert_T") for k, v in annotations.items()}
    exp_alerts = []
    input_series = []
    for name, value in SERIES.items():
        labels = {"__name__": "v", "case": name, "source": "tradeboss"}
        series = f'v{{case="{name}", source="tradeboss"}}'
        input_series.append({"series": series, "values": _promql_value(value)})
        exp_alerts.append(
            {
                "exp_labels": {"case": name, "source": "tradeboss"},
                "exp_annotations": {
                    k: t.expand(labels, value, {}, "") for k, t in templates.items()
                },
            }
        )
    test = {
        "rule_files": ["rules.yaml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "alert_rule_test": [
                    {"eval_time": "0m", "alertname": "T", "exp_alerts": exp_alerts}
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, width=10_000))
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == done.returncode, done.stdout[-6000:] + done.stderr[-2000:]
