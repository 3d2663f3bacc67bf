#!/usr/bin/env bash
# Checks the deployment files without deploying anything: the compose file parses and resolves
# (docker-compose config), the Kubernetes manifests render (kubectl kustomize), and the Heroku files agree
# with each other and with the binary. It installs nothing; CI installs Debian's docker-compose and kubectl
# first.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in docker-compose kubectl; do
	command -v "$tool" >/dev/null || { echo "deploy/check: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done

# The compose file insists on its secrets; any values will do to check it.
MARQUEE_ADMIN_PASSWORD="${MARQUEE_ADMIN_PASSWORD:-only-checking-the-file}" \
	MARQUEE_INTERNAL_TOKEN="${MARQUEE_INTERNAL_TOKEN:-only-checking-the-file-0123456789abcdef}" \
	MARQUEE_NATS_CATALOG_PASSWORD="${MARQUEE_NATS_CATALOG_PASSWORD:-only-checking}" \
	MARQUEE_NATS_SEARCH_PASSWORD="${MARQUEE_NATS_SEARCH_PASSWORD:-only-checking}" \
	docker-compose -f docker-compose.yml config -q
echo "deploy/check: docker-compose.yml is valid"

kubectl kustomize deploy/k8s >"${TMPDIR:-/tmp}/marquee-k8s.yaml"
echo "deploy/check: deploy/k8s renders"

# What an operator's review asked of the manifests, so that it cannot regress: every container has startup,
# readiness and liveness probes, memory requests and limits, and an image pinned to a tag other than latest;
# every container takes the internal token from a secret, catalog and search their NATS users' passwords; search and the gateway spread over nodes and have a PodDisruptionBudget; the stream is kept in three
# replicas; the gateway trusts the ingress as a proxy; a new search replica copies a ready one, through the
# Service of the ready replicas.
python3 - "${TMPDIR:-/tmp}/marquee-k8s.yaml" <<'PY'
import sys, yaml
def fail(msg):
    sys.exit("deploy/check: deploy/k8s: " + msg)
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
workloads = {**by_kind.get("Deployment", {}), **by_kind.get("StatefulSet", {})}
for name in ("catalog", "search", "gateway"):
    if name not in workloads:
        fail("no workload %s" % name)
for name, w in workloads.items():
    for c in w["spec"]["template"]["spec"]["containers"]:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe not in c:
                fail("%s/%s has no %s" % (name, c["name"], probe))
        res = c.get("resources", {})
        if "memory" not in res.get("requests", {}) or "memory" not in res.get("limits", {}):
            fail("%s/%s needs memory requests and limits" % (name, c["name"]))
        env = {e["name"]: e for e in c.get("env", [])}
        if "secretKeyRef" not in env.get("MARQUEE_INTERNAL_TOKEN", {}).get("valueFrom", {}):
            fail("%s/%s needs MARQUEE_INTERNAL_TOKEN from a secret: the internal endpoints are open without it" % (name, c["name"]))
        if name in ("catalog", "search") and (env.get("MARQUEE_NATS_USER", {}).get("value") != name or
                "secretKeyRef" not in env.get("MARQUEE_NATS_PASSWORD", {}).get("valueFrom", {})):
            fail("%s/%s must connect to NATS as the user %s, its password from a secret (deploy/nats/auth.conf)" % (name, c["name"], name))
        image = c["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if tag in ("", "latest"):
            fail("%s/%s runs %s: pin a tag other than latest" % (name, c["name"], image))
pdbs = by_kind.get("PodDisruptionBudget", {})
for name in ("search", "gateway"):
    spec = workloads[name]["spec"]
    if spec["replicas"] < 2:
        fail("%s needs 2 replicas or more" % name)
    if not spec["template"]["spec"].get("topologySpreadConstraints"):
        fail("%s needs topologySpreadConstraints over nodes" % name)
    labels = spec["selector"]["matchLabels"]
    if not any(p["spec"]["selector"]["matchLabels"] == labels for p in pdbs.values()):
        fail("%s needs a PodDisruptionBudget" % name)
config = {}
for cm in by_kind.get("ConfigMap", {}).values():
    if cm["metadata"]["name"].startswith("marquee-config"):
        config = cm["data"]
if config.get("MARQUEE_STREAM_REPLICAS") != "3":
    fail("the stream needs MARQUEE_STREAM_REPLICAS=3 on the NATS cluster, has %r" % config.get("MARQUEE_STREAM_REPLICAS"))
if not config.get("MARQUEE_TRUSTED_PROXIES"):
    fail("the gateway needs MARQUEE_TRUSTED_PROXIES (the ingress), or the rate limit keys on the ingress")
services = by_kind.get("Service", {})
search_env = {e["name"]: e.get("value") for e in workloads["search"]["spec"]["template"]["spec"]["containers"][0].get("env", [])}
peer = search_env.get("MARQUEE_BOOTSTRAP_FROM") or ""
host = peer.split("://", 1)[-1].split(":", 1)[0]
if host not in services or services[host]["spec"].get("clusterIP") == "None" or services[host]["spec"].get("publishNotReadyAddresses"):
    fail("search needs MARQUEE_BOOTSTRAP_FROM naming the Service of its ready replicas (a new volume copies one), has %r" % peer)
PY
echo "deploy/check: deploy/k8s has probes, pinned images, memory limits, spread, disruption budgets, replicated stream, trusted ingress, replica bootstrap"

# The Heroku app manifest must be valid JSON.
python3 -m json.tool app.json >/dev/null 2>&1 || node -e 'JSON.parse(require("fs").readFileSync("app.json","utf8"))'
echo "deploy/check: app.json is valid JSON"

# Heroku: heroku.yml builds the web image from the Dockerfile and runs a release command that exists in the
# binary; the Dockerfile's command runs `marquee serve` on $PORT; app.json provisions a MySQL add-on whose
# variable marquee reads, and trusts only private ranges as proxies.
python3 - <<'PY'
import ipaddress, json, re, sys, yaml
def fail(msg):
    sys.exit("deploy/check: " + msg)
h = yaml.safe_load(open("heroku.yml"))
web = h.get("build", {}).get("docker", {}).get("web")
if web != "deploy/heroku/Dockerfile":
    fail("heroku.yml must build web from deploy/heroku/Dockerfile, has %r" % web)
release = h.get("release", {})
if release.get("image") != "web" or release.get("command") != ["marquee migrate"]:
    fail("heroku.yml's release phase must run `marquee migrate` in the web image, has %r" % release)
cmd = [l for l in open(web) if l.startswith(("CMD", "ENTRYPOINT"))]
if len(cmd) != 1 or not cmd[0].startswith("CMD") or not re.search(r'marquee serve --addr "0\.0\.0\.0:\$\{PORT', cmd[0]):
    fail("%s must have one CMD that runs `marquee serve` on $PORT (no ENTRYPOINT: it would swallow the release command), has %r" % (web, cmd))
app = json.load(open("app.json"))
if app.get("stack") != "container":
    fail("app.json must use the container stack")
plans = [a["plan"] if isinstance(a, dict) else a for a in app.get("addons", [])]
if not any(p.split(":")[0] in ("jawsdb", "jawsdb-maria", "cleardb") for p in plans):
    fail("app.json must provision a MySQL add-on (jawsdb, jawsdb-maria or cleardb), has %r" % plans)
for cidr in app["env"]["MARQUEE_TRUSTED_PROXIES"]["value"].split(","):
    if not ipaddress.ip_network(cidr).is_private:
        fail("MARQUEE_TRUSTED_PROXIES must name private ranges only, has %s" % cidr)
PY
echo "deploy/check: heroku.yml, its Dockerfile and app.json agree"

# The release command exists and can run twice: a migration applied is not applied again.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/marquee" ./cmd/marquee
mkdir "$tmp/data"
for run in first again; do
	MARQUEE_DATA_DIR="$tmp/data" "$tmp/marquee" migrate | grep -q 'is up to date' ||
		{ echo "deploy/check: the release command \`marquee migrate\` failed ($run run)" >&2; exit 1; }
done
echo "deploy/check: the release command \`marquee migrate\` runs"

# Every MARQUEE_ setting app.json sets is one `marquee serve` reads (a misspelt one would be ignored).
serve_help=$("$tmp/marquee" serve --help)
for var in $(python3 -c 'import json; print(" ".join(k for k in json.load(open("app.json"))["env"] if k.startswith("MARQUEE_")))'); do
	flag="--$(echo "${var#MARQUEE_}" | tr 'A-Z_' 'a-z-')"
	grep -q -- "$flag " <<<"$serve_help" ||
		{ echo "deploy/check: app.json sets $var, which marquee serve does not read ($flag)" >&2; exit 1; }
done
echo "deploy/check: app.json sets only what marquee serve reads"
