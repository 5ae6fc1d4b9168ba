"""Alertmanager's needsUpdate rule and the template subset."""

from __future__ import annotations

from watcher.gotemplate.alertmanager import check_text, load_templates
from watcher.notify.nflog import Entry, needs_update

E = Entry(frozenset({"a"}), frozenset(), 1000.0)


def upd(
    entry: Entry | None,
    firing: set[str],
    resolved: set[str],
    *,
    send_resolved: bool = True,
    now: float = 1100.0,
) -> bool:
    return needs_update(
        entry, firing, resolved, send_resolved=send_resolved, repeat_interval=3600, now=now
    )


def test_first_notification_needs_something_firing() -> None:
    """A group never notified is sent only when an alert fires."""
    assert (True, False) == (upd(None, {"a"}, set()), upd(None, set(), {"a"}))


def test_new_firing_alert_is_sent_but_a_disappearing_one_is_not() -> None:
    """A firing set that grew is sent; one that shrank (without send_resolved) waits."""
    two = Entry(frozenset({"a", "b"}), frozenset(), 1000.0)
    assert (True, False) == (upd(E, {"a", "b"}, set()), upd(two, {"a"}, {"b"}, send_resolved=False))


def test_all_resolved_is_logged_even_without_send_resolved_and_only_once() -> None:
    """Everything resolving updates the log; after that, nothing more."""
    cleared = Entry(frozenset(), frozenset({"a"}), 1000.0)
    assert (True, False) == (upd(E, set(), {"a"}, send_resolved=False), upd(cleared, set(), {"a"}))


def test_repeat_interval() -> None:
    """An unchanged group repeats only once repeat_interval has passed."""
    assert (False, True) == (upd(E, {"a"}, set()), upd(E, {"a"}, set(), now=4600.0))


def test_notification_templates_are_checked_with_gos_parser() -> None:
    """Go template syntax parses (range, if, template); a broken one gets Go's parse error."""
    templates = load_templates()
    ok = '{{ range .Alerts }}{{ if eq .Status "firing" }}x{{ end }}{{ end }}'
    assert (None, None) == (
        check_text(templates, ok),
        check_text(templates, '{{ template "slack.default.title" . }}'),
    )
    assert "template: :1: unexpected EOF" == check_text(templates, "{{ range .Alerts }}")
