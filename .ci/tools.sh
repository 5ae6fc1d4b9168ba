# Sourced by .ci/helm.sh and .ci/image.sh: the cache folder and a venv for the CI tools, so they
# install the same way on this project's Python and on a stock Debian one (PEP 668 forbids
# `pip install` into Debian's own python3).
CACHE=${WATCHER_CI_CACHE:-/var/cache/watcher-ci}
TOOLS=$CACHE/venv

# tools_install REQUIREMENT...: make $TOOLS/bin hold them (pinned; a no-op when present).
tools_install() {
    if [[ ! -x $TOOLS/bin/python ]]; then
        if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                python3-venv >/dev/null
        fi
        mkdir -p "$CACHE"
        python3 -m venv "$TOOLS"
    fi
    "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check "$@"
}
