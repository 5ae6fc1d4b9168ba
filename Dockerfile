# watcher container image.
#
#   docker build -t watcher .
#   docker run --read-only --tmpfs /tmp -p 9746:9746 watcher demo
#
# BASE_IMAGE is any Debian-like image with Python >= 3.11 and its venv module. The default is the
# official slim image; CI builds on a debootstrap'ed Debian bookworm instead (see .ci/image.sh),
# which has `python3` but no `python`, so every command below says python3.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

# ---- build: turn the source tree into wheels (ours and every dependency) ---------------------
FROM ${BASE_IMAGE} AS build

# Package index settings, passed in when the build cannot use pip's defaults (a mirror, a proxy,
# a TLS-intercepting proxy's CA bundle mounted into the build). Unset unless given.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=120 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python3 -m venv /opt/build
# The context is an allowlist (.dockerignore): pyproject.toml, requirements.lock, README.md,
# watcher/ and the files the final stage ships.
COPY . .
# The dependencies' wheels at exactly the versions CI tested (requirements.lock, hash-checked),
# then watcher's own wheel built in an isolated build env without resolving anything again, so
# the final stage installs offline from /wheels and can only get the locked versions.
RUN /opt/build/bin/pip wheel --wheel-dir /wheels --require-hashes -r requirements.lock \
 && /opt/build/bin/pip wheel --wheel-dir /wheels --no-deps .

# ---- final: a venv holding the wheel, run as an unprivileged user ----------------------------
FROM ${BASE_IMAGE}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="watcher" \
      org.opencontainers.image.description="Monitoring and alerting daemon for CoinW Mega Coupons, CoinW affiliate volume and TradeBoss balances" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# `watcher demo` listens on 127.0.0.1 by default; in the container it must be reachable.
ENV PATH=/opt/watcher/bin:$PATH \
    WATCHER_DEMO_LISTEN=0.0.0.0:9746 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A fixed numeric uid/gid: Kubernetes can only enforce runAsNonRoot against a numeric USER.
# --no-log-init: a high uid would otherwise give a huge sparse /var/log/lastlog.
RUN groupadd --gid 10001 watcher \
 && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home \
        --home-dir /var/lib/watcher --shell /usr/sbin/nologin watcher

# Install offline from the build stage's wheels, then drop pip and setuptools: nothing installs
# at run time, and the root filesystem may be read-only.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python3 -m venv /opt/watcher \
 && /opt/watcher/bin/pip install --no-index --find-links /wheels watcher \
 && /opt/watcher/bin/pip uninstall --yes pip setuptools \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/watcher \
 && watcher --help > /dev/null

# The example config (checkable as shipped once its secret files exist: see its header) and the
# shipped rules it loads from /etc/watcher/rules/*.yaml.
COPY examples/watcher.yaml /etc/watcher/watcher.yaml
COPY rules/*.yaml /etc/watcher/rules/

# SQLite state (alert state, notification log, silences) must outlive the container.
VOLUME ["/var/lib/watcher"]
WORKDIR /var/lib/watcher
USER 10001:10001
EXPOSE 9746

# Exec form: watcher is PID 1 and receives SIGTERM itself (it drains and exits 0).
ENTRYPOINT ["watcher"]
CMD ["run", "-c", "/etc/watcher/watcher.yaml"]
