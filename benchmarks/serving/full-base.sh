#!/usr/bin/env bash
# The naive baseline's base image, faithful to the tutorial: `FROM python:3.11`, the full image.
#
# python:3.11 (bookworm) is buildpack-deps:bookworm (Debian plus curl, wget, gnupg, git, mercurial,
# subversion, openssh-client, gcc, g++, make, autotools and some 30 -dev libraries, as listed in
# docker-library/buildpack-deps' debian/bookworm/{curl,scm,}/Dockerfile) with CPython built from
# source on top. python:3.11-slim, the base of our image, is Debian with Python and nothing else.
#
# Where Docker Hub answers, the real image is used. Elsewhere (these machines) this builds
# local/python-full:3.11 from Debian packages exactly as scripts/ci/docker-engine.sh builds
# local/python-base:3.11, the stand-in for python:3.11-slim, only with buildpack-deps' package list
# (and python3-dev for the headers CPython's source build installs). Both stand-ins get the same
# Python, so the two images differ by what the tutorial's base adds, as the real ones do.
# Plus local/python-full:3.11-ca, with the host's CA bundle for pip behind a TLS proxy.
set -euo pipefail

FULL_IMAGE=${FULL_IMAGE:-local/python-full:3.11}
FULL_TAR=${FULL_TAR:-/var/cache/mlops-ci/pyfull.tar}
log() { printf 'full-base: %s\n' "$*" >&2; }

# buildpack-deps:bookworm-curl, -scm and bookworm, in that order; default-libmysqlclient-dev is
# what their apt-cache test picks on bookworm.
PACKAGES=(
  python3 python3-venv python3-pip python3-dev
  ca-certificates curl gnupg netbase sq wget
  git git-lfs mercurial openssh-client subversion procps
  autoconf automake bzip2 dpkg-dev file g++ gcc imagemagick libbz2-dev libc6-dev
  libcurl4-openssl-dev libdb-dev libevent-dev libffi-dev libgdbm-dev libglib2.0-dev libgmp-dev
  libjpeg-dev libkrb5-dev liblzma-dev libmagickcore-dev libmagickwand-dev libmaxminddb-dev
  libncurses5-dev libncursesw5-dev libpng-dev libpq-dev libreadline-dev libsqlite3-dev libssl-dev
  libtool libwebp-dev libxml2-dev libxslt-dev libyaml-dev make patch unzip xz-utils zlib1g-dev
  default-libmysqlclient-dev
)

full_image() {
  docker image inspect "$FULL_IMAGE" >/dev/null 2>&1 && return 0
  if docker pull -q python:3.11 >/dev/null 2>&1; then
    docker tag python:3.11 "$FULL_IMAGE"
    return 0
  fi
  command -v mmdebstrap >/dev/null 2>&1 || { log "mmdebstrap missing: run scripts/ci/docker-engine.sh first"; exit 1; }
  if [[ ! -s $FULL_TAR ]]; then
    log "building $FULL_IMAGE from Debian packages (a few minutes)"
    mkdir -p "$(dirname "$FULL_TAR")"
    local include mirror
    mirror=$("$(dirname "${BASH_SOURCE[0]}")/../../scripts/ci/debian-mirror.sh")
    include=$(IFS=,; echo "${PACKAGES[*]}")
    mmdebstrap --quiet --variant=minbase --format=tar --include="$include" \
      bookworm "$FULL_TAR.part" "$mirror"
    mv "$FULL_TAR.part" "$FULL_TAR"
  fi
  docker import --change 'CMD ["python3"]' "$FULL_TAR" "$FULL_IMAGE" >/dev/null
}

ca_image() {
  docker image inspect "$FULL_IMAGE-ca" >/dev/null 2>&1 && return 0
  local ctx
  ctx=$(mktemp -d)
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  printf 'FROM %s\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n' "$FULL_IMAGE" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$FULL_IMAGE-ca" "$ctx" >/dev/null
  rm -rf "$ctx"
}

full_image
ca_image
log "ready: $FULL_IMAGE ($(docker image inspect -f '{{.Size}}' "$FULL_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
