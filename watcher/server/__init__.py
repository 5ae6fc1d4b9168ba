"""HTTP: every route the daemon serves, each module reading the daemon through a narrow view.

``routes.add_routes`` registers them all; ``views`` defines those views (Protocols the daemon satisfies); ``ops`` the lifecycle routes;
``am_alerts`` and ``am_silences`` the Alertmanager API v2; the status page (``watcher.page``),
``/graph`` and ``/api/v1/query`` take the same ``StatusView``. ``watcher.webauth`` guards all of
them.
"""
