"""Alert label and annotation templates, expanded as Prometheus's rule manager does.

Prometheus prepends ``{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
{{$externalURL := .ExternalURL}}{{$value := .Value}}`` to each template, names it
``__alert_<rule>`` and runs Go's text/template with its function set and
``missingkey=zero`` (``rules/alerting.go``, ``template/template.go``). A failure renders
``<error expanding template: ...>`` in place of the text, with Go's error message, so error
positions (``__alert_X:1:115``) match Prometheus's. The engine is ``watcher.gotemplate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watcher.errors import RuleError
from watcher.gotemplate import ExecError, ParseError, Templates
from watcher.gotemplate.funcs import PROMETHEUS
from watcher.gotemplate.values import GoMap, Struct

_DEFS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)
_DATA_TYPE = (
    "struct { Labels map[string]string; ExternalLabels map[string]string;"
    " ExternalURL string; Value float64 }"
)


def _labels(labels: Mapping[str, str]) -> GoMap:
    return GoMap(labels, go_type="map[string]string", zero="")


@dataclass(frozen=True)
class Template:
    """A parsed rule template; ``expand`` never raises, as in Prometheus."""

    text: str
    name: str
    templates: Templates

    def expand(
        self,
        labels: Mapping[str, str],
        value: float,
        external_labels: Mapping[str, str],
        external_url: str = "",
    ) -> str:
        """Render with one alert's data (Prometheus's ``AlertTemplateData``)."""
        if "{{" not in self.text:
            return self.text
        data = Struct(
            _DATA_TYPE,
            [
                ("Labels", _labels(labels)),
                ("ExternalLabels", _labels(external_labels)),
                ("ExternalURL", external_url),
                ("Value", float(value)),
            ],
        )
        try:
            return self.templates.execute(self.name, data)
        except ExecError as exc:
            return f"<error expanding template: error executing template {self.name}: {exc}>"


def parse_template(text: str, name: str = "__alert_") -> Template:
    """Parse a rule template named ``name``; raise RuleError with Go's message."""
    templates = Templates(PROMETHEUS)
    try:
        templates.parse(_DEFS + text, name)
    except ParseError as exc:
        raise RuleError(str(exc)) from None
    return Template(text, name, templates)
