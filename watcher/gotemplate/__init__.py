"""Go's text/template and the Go formatting Alertmanager and Prometheus users see."""
