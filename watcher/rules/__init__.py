"""Alerting rules: Prometheus rule files, a PromQL-subset evaluator and the alert state machine.

Data flows config -> ``load_rule_files`` -> ``RuleManager.evaluate(snapshot)`` -> alerts to send.
``run_rule_tests`` runs promtool's rule unit-test files on the same engine.
"""

from __future__ import annotations

from watcher.rules.alerting import ActiveAlert
from watcher.rules.loader import AlertingRule, RuleGroup, check_rule_files, load_rule_files
from watcher.rules.manager import RuleManager
from watcher.rules.promtest import run_rule_tests

__all__ = [
    "ActiveAlert",
    "AlertingRule",
    "RuleGroup",
    "RuleManager",
    "check_rule_files",
    "load_rule_files",
    "run_rule_tests",
]
