"""Check rendered chart manifests beyond Kubernetes' built-in schemas.

kubernetes-validate knows the built-in kinds; this checks what it cannot:
- ServiceMonitor and PrometheusRule (prometheus-operator CRDs) against strict schemas of the
  fields the chart uses, written from the CRDs' documented openAPIV3Schema;
- every PrometheusRule's groups and every rules ConfigMap file with `promtool check rules`;
- the Grafana dashboard ConfigMap: valid JSON, every target's expr parses as PromQL.

Usage: python3 .ci/k8s_check.py MANIFEST.yaml...   (exit 1 on any problem)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import promql_parser
import yaml

# Prometheus durations as the CRDs spell them: units in descending order.
_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "namespace": {"type": "string"},
    },
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


_RELABELINGS = {"type": "array", "items": {"type": "object"}}
# prometheus-operator's SecretKeySelector, SecretOrConfigMap and the endpoint's TLSConfig.
_SECRET_KEY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key"],
    "properties": {
        "name": {"type": "string"},
        "key": {"type": "string"},
        "optional": {"type": "boolean"},
    },
}
_SECRET_OR_CONFIGMAP = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"secret": _SECRET_KEY, "configMap": _SECRET_KEY},
}
_TLS_CONFIG = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ca": _SECRET_OR_CONFIGMAP,
        "cert": _SECRET_OR_CONFIGMAP,
        "keySecret": _SECRET_KEY,
        "serverName": {"type": "string"},
        "insecureSkipVerify": {"type": "boolean"},
        "caFile": {"type": "string"},
        "certFile": {"type": "string"},
        "keyFile": {"type": "string"},
    },
}
SERVICE_MONITOR = _resource(
    "ServiceMonitor",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["selector", "endpoints"],
        "properties": {
            "selector": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"matchLabels": _STRING_MAP, "matchExpressions": {"type": "array"}},
            },
            "namespaceSelector": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "any": {"type": "boolean"},
                    "matchNames": {"type": "array", "items": {"type": "string"}},
                },
            },
            "jobLabel": {"type": "string"},
            "targetLabels": {"type": "array", "items": {"type": "string"}},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string", "minLength": 1},
                        "path": {"type": "string", "pattern": "^/"},
                        "scheme": {"enum": ["http", "https"]},
                        "interval": {"type": "string", "pattern": _DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                        "honorLabels": {"type": "boolean"},
                        "relabelings": _RELABELINGS,
                        "metricRelabelings": _RELABELINGS,
                        "tlsConfig": _TLS_CONFIG,
                        "basicAuth": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"username": _SECRET_KEY, "password": _SECRET_KEY},
                        },
                    },
                },
            },
        },
    },
)
PROMETHEUS_RULE = _resource(
    "PrometheusRule",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "interval": {"type": "string", "pattern": _DURATION},
                        "limit": {"type": "integer"},
                        "query_offset": {"type": "string", "pattern": _DURATION},
                        "labels": _STRING_MAP,
                        "rules": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["expr"],
                                "properties": {
                                    "alert": {"type": "string"},
                                    "record": {"type": "string"},
                                    "expr": {"type": ["string", "integer"]},
                                    "for": {"type": "string", "pattern": _DURATION},
                                    "keep_firing_for": {
                                        "type": "string",
                                        "minLength": 1,
                                        "pattern": _DURATION,
                                    },
                                    "labels": _STRING_MAP,
                                    "annotations": _STRING_MAP,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
)
SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}

# Grafana's variables, replaced by something PromQL accepts before parsing.
_GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def promtool_rules(text: str, where: str) -> list[str]:
    """Problems `promtool check rules` finds in the rule file ``text``."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        done = subprocess.run(  # noqa: S603 - fixed argv, our own temp file
            ["promtool", "check", "rules", f.name],  # noqa: S607 - promtool from PATH
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode == 0:
        return []
    return [f"{where}: promtool check rules: {done.stdout}{done.stderr}".strip()]


def dashboard_problems(text: str, where: str) -> list[str]:
    """Problems of a Grafana dashboard: bad JSON, a target whose expr is not PromQL."""
    try:
        board = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"{where}: not JSON: {exc}"]
    problems = []
    panels = list(board.get("panels", []))
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            for var, value in _GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            expr = _VARIABLE.sub(".*", expr)
            try:
                promql_parser.parse(expr)
            except ValueError as exc:
                title = panel.get("title", "?")
                problems.append(f'{where}: panel "{title}": expr {target.get("expr")!r}: {exc}')
    if not problems and not board.get("panels"):
        problems.append(f"{where}: the dashboard has no panels")
    return problems


def check(doc: dict[str, Any], where: str) -> list[str]:
    """Every problem of one rendered manifest."""
    kind = doc.get("kind", "")
    problems = []
    if kind in SCHEMAS:
        validator = jsonschema.Draft7Validator(SCHEMAS[kind])
        for error in sorted(validator.iter_errors(doc), key=str):
            path = ".".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{where}: {kind} {path}: {error.message}")
    if kind == "PrometheusRule":
        problems += promtool_rules(yaml.safe_dump(doc.get("spec", {})), f"{where}: spec")
    if kind == "ConfigMap" and doc["metadata"]["name"].endswith("-rules"):
        for name, text in (doc.get("data") or {}).items():
            problems += promtool_rules(text, f"{where}: {name}")
    if kind == "ConfigMap" and doc["metadata"]["name"].endswith("-dashboard"):
        for name, text in (doc.get("data") or {}).items():
            problems += dashboard_problems(text, f"{where}: {name}")
    return problems


def main(files: list[str]) -> int:
    """Check every manifest of ``files``; print the problems; 1 if there were any."""
    problems: list[str] = []
    for file in files:
        for doc in yaml.safe_load_all(Path(file).read_text(encoding="utf-8")):
            if doc:
                where = f"{file}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
                problems += check(doc, where)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
