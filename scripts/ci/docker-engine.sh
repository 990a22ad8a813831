#!/usr/bin/env bash
# Brings up the real parts the end-to-end tests use, idempotently (a second run takes ~1 s):
#   - a Docker engine (Debian's docker.io, started here if none answers) and the CNCF registry
#     binary (docker-registry) the local Heroku target runs;
#   - local/python-base:3.11, a stand-in for python:3.11-slim built from Debian packages
#     (these machines have no Docker Hub; where Docker Hub answers, the real image is used);
#   - local/python-base:3.11-ca, the same plus the host's CA bundle, so `pip install` inside a
#     test build works through a TLS-intercepting proxy. Test stand-in only: the production
#     Dockerfile never sees it.
# Installing and starting need root, or passwordless sudo (as on GitHub's runners).
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-local/python-base:3.11}
BASE_TAR=${BASE_TAR:-/var/cache/mlops-ci/pybase.tar}
log() { printf 'docker-engine: %s\n' "$*" >&2; }

CAN_ROOT=1
AS_ROOT=()
if [[ $(id -u) -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then AS_ROOT=(sudo -n); else CAN_ROOT=0; fi
fi
engine_up() { docker info >/dev/null 2>&1 || "${AS_ROOT[@]}" docker info >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  "${AS_ROOT[@]}" apt-get update -qq
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's registry package starts a system service on :5000; the tests run their own.
  if command -v systemctl >/dev/null 2>&1; then "${AS_ROOT[@]}" systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
}

start_engine() {
  log "starting dockerd"
  # No iptables in these sandboxes; published ports go through docker-proxy on loopback.
  "${AS_ROOT[@]}" sh -c 'nohup dockerd --iptables=false --ip6tables=false >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    engine_up && return 0
    sleep 1
  done
  log "dockerd did not come up; see /var/log/dockerd.log"
  "${AS_ROOT[@]}" tail -20 /var/log/dockerd.log >&2 || true
  exit 1
}

base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  if docker pull -q python:3.11-slim >/dev/null 2>&1; then
    docker tag python:3.11-slim "$BASE_IMAGE"
    return 0
  fi
  if [[ ! -s $BASE_TAR ]]; then
    log "building $BASE_IMAGE from Debian packages (about a minute)"
    local mirror
    mirror=$("$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh")
    "${AS_ROOT[@]}" mkdir -p "$(dirname "$BASE_TAR")"
    "${AS_ROOT[@]}" mmdebstrap --quiet --variant=minbase --format=tar \
      --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$BASE_TAR.part" "$mirror"
    "${AS_ROOT[@]}" mv "$BASE_TAR.part" "$BASE_TAR"
  fi
  docker import --change 'CMD ["python3"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

ca_image() {
  docker image inspect "$BASE_IMAGE-ca" >/dev/null 2>&1 && return 0
  log "deriving $BASE_IMAGE-ca (host CA bundle, test builds only)"
  local ctx
  ctx=$(mktemp -d)
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  printf 'FROM %s\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n' "$BASE_IMAGE" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE-ca" "$ctx" >/dev/null
  rm -rf "$ctx"
}

if ((CAN_ROOT == 0)); then
  engine_up || { log "no Docker engine answers and starting one needs root or passwordless sudo"; exit 1; }
  command -v docker-registry >/dev/null 2>&1 || log "docker-registry is not installed: registry tests will fail"
else
  install_packages
  engine_up || start_engine
fi
docker info >/dev/null 2>&1 || { log "the engine runs but this user cannot reach it (add yourself to the docker group)"; exit 1; }
base_image
ca_image
log "ready: $(docker version --format 'engine {{.Server.Version}}') with $BASE_IMAGE and $BASE_IMAGE-ca"
