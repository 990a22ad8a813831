#!/usr/bin/env bash
# Brings up the real parts the end-to-end tests use, idempotently (a second run takes ~1 s):
#   - Debian's Docker engine (dockerd) and CNCF registry (docker-registry);
#   - local/python-base:3.11, a stand-in for python:3.11-slim built from Debian packages
#     (there is no Docker Hub on these machines);
#   - local/python-base:3.11-ca, the same plus the host's CA bundle, so `pip install` inside a
#     test build works through a TLS-intercepting proxy. Test stand-in only: the production
#     Dockerfile never sees it.
# Needs root. Safe to run on a laptop that already has Docker: it only starts dockerd if none answers.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-local/python-base:3.11}
BASE_TAR=${BASE_TAR:-/var/cache/mlops-ci/pybase.tar}
log() { printf 'docker-engine: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "needs root to install and start the engine; run with sudo, or start Docker yourself"
  exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's registry package starts a system service on :5000; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  # No iptables in these sandboxes; published ports go through docker-proxy on loopback.
  nohup dockerd --iptables=false --ip6tables=false >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if [[ ! -s $BASE_TAR ]]; then
    log "building $BASE_IMAGE from Debian packages (about a minute)"
    mkdir -p "$(dirname "$BASE_TAR")"
    mmdebstrap --quiet --variant=minbase --format=tar \
      --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$BASE_TAR.part" http://deb.debian.org/debian
    mv "$BASE_TAR.part" "$BASE_TAR"
  fi
  docker import --change 'CMD ["python3"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi

if ! docker image inspect "$BASE_IMAGE-ca" >/dev/null 2>&1; then
  log "deriving $BASE_IMAGE-ca (host CA bundle, test builds only)"
  ctx=$(mktemp -d)
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  printf 'FROM %s\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n' "$BASE_IMAGE" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE-ca" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
log "ready: $(docker version --format 'engine {{.Server.Version}}') with $BASE_IMAGE and $BASE_IMAGE-ca"
