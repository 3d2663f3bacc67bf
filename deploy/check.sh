#!/usr/bin/env bash
# Checks the deployment files without deploying anything: the compose file parses and resolves
# (docker-compose config) and the Kubernetes manifests render (kubectl kustomize). It installs nothing;
# CI installs Debian's docker-compose and kubectl first.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in docker-compose kubectl; do
	command -v "$tool" >/dev/null || { echo "deploy/check: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done

# The compose file insists on an admin password; any value will do to check it.
MARQUEE_ADMIN_PASSWORD="${MARQUEE_ADMIN_PASSWORD:-only-checking-the-file}" docker-compose -f docker-compose.yml config -q
echo "deploy/check: docker-compose.yml is valid"

kubectl kustomize deploy/k8s >/dev/null
echo "deploy/check: deploy/k8s renders"

# The Heroku app manifest must be valid JSON.
python3 -m json.tool app.json >/dev/null 2>&1 || node -e 'JSON.parse(require("fs").readFileSync("app.json","utf8"))'
echo "deploy/check: app.json is valid JSON"
