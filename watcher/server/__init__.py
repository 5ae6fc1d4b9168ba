"""HTTP: every route the daemon serves, each module reading the daemon through a narrow view.

``routes.add_routes`` installs the request guard (``guard``; its auth checks are
``watcher.webauth``'s) and registers every route; ``views`` defines those views (Protocols the
daemon satisfies); ``metrics`` serves ``/metrics`` from ``watcher.exposition``'s cache; ``ops``
the lifecycle routes; ``am_alerts`` and ``am_silences`` the Alertmanager API v2; ``promapi``
Prometheus's ``/api/v1`` read API; the status page (``watcher.page``), ``/graph`` and
``/api/v1/query`` take the same ``StatusView``.
"""
