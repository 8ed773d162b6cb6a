#!/usr/bin/env bash
# The whole example applied for real, on this machine: `ev -e local apply`
# against servers this script starts on loopback ports (PowerDNS with its
# sqlite backend, a docker-registry, etcd + kube-apiserver +
# kube-controller-manager), Nix building and activating every machine into a
# profile, secrets decrypted with the example's test-only age key. Pulumi
# cannot be installed here: the jupiter stack's outputs are the recorded ones
# in exports/env/local (the plan says so).
#
# It works on a copy of the repository (your checkout is never written),
# installs what it needs with scripts/install-tools.sh (cached), then:
#   1. applies everything with the live progress view,
#   2. shows the result through each tool's own client (dig, skopeo,
#      kubectl, the activated profiles) and fails if it differs,
#   3. proves a second plan has nothing to do (`--detailed-exitcode` exits 0),
#   4. edits one DNS record and one app, plans (two actions) and applies,
# and stops every server it started, also on Ctrl-C. Phase times at the end.
#
# Environment: EV=path/to/ev (default: build target/release/ev);
# EV_SANDBOX_KEEP=1 keeps the copy and the servers' logs;
# EV_SANDBOX_KILL=1 kills ev with SIGKILL in the middle of the first apply
# and applies again (what the test suite checks: nothing lost, nothing twice);
# EV_SANDBOX_REPORT=FILE writes what the tools answered, one `key value` a line;
# EV_SANDBOX_NO_INSTALL=1 uses the tools on PATH as they are (the test suite).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

phases=()
phase_start=$(date +%s%N)
script_start=$phase_start
# Ends the current phase (its name and seconds go to the summary).
phase_done() {
  local now
  now=$(date +%s%N)
  phases+=("$(printf '%-34s %6.1f s' "$1" "$(((now - phase_start) / 1000000))e-3")")
  phase_start=$now
}
say() { printf '\n== %s\n' "$*"; }
fail() {
  echo "sandbox: $*" >&2
  exit 1
}

if [[ -z ${EV_SANDBOX_NO_INSTALL:-} ]]; then
  say "tools (scripts/install-tools.sh: Debian packages, a Python venv, kube-apiserver; cached)"
  tool_dirs=$("$repo/scripts/install-tools.sh")
  export PATH="$tool_dirs:$PATH"
fi
if [[ -z ${EV:-} ]]; then
  cargo build --release -q -p ev-cli --manifest-path "$repo/Cargo.toml"
  EV=$repo/target/release/ev
fi
phase_done "install tools, build ev"

work=$(mktemp -d "${TMPDIR:-/tmp}/ev-sandbox.XXXXXX")
copy=$work/everything
pids=()
cleanup() {
  local status=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n ${EV_SANDBOX_KEEP:-} ]]; then
    echo "sandbox: kept $work (the copy, the servers' data and logs)" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo "sandbox: interrupted" >&2; exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
  local port=$1 what=$2
  for _ in $(seq 1 150); do
    if python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      return
    fi
    sleep 0.2
  done
  tail -20 "$work/$what.log" >&2 || true
  fail "$what did not start listening on 127.0.0.1:$port"
}
start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

say "a copy of the repository in $copy"
mkdir -p "$copy"
# The files git knows, as they are in the working tree.
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | tar -C "$copy" -xf -
export SOPS_AGE_KEY_FILE=$copy/secrets/test-only.agekey
secret() {
  sops --decrypt --extract "$2" "$copy/$1"
}
# Nix: flakes, no substituters (offline), builds outside a sandbox.
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group ='

dns_port=$(free_port)
dns_api_port=$(free_port)
registry_port=$(free_port)
kube_port=$(free_port)
etcd_port=$(free_port)
etcd_peer_port=$(free_port)
etcd_metrics_port=$(free_port)
cm_port=$(free_port)

say "PowerDNS (sqlite) on 127.0.0.1:$dns_port, its API on :$dns_api_port"
mkdir -p "$work/pdns"
sqlite3 "$work/pdns/pdns.sqlite3" </usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
cat >"$work/pdns/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$work/pdns/pdns.sqlite3
local-address=127.0.0.1
local-port=$dns_port
socket-dir=$work/pdns
daemon=no
guardian=no
disable-syslog=yes
security-poll-suffix=
api=yes
api-key=$(secret secrets/local.yaml '["pdns"]["api_key"]')
webserver=yes
webserver-address=127.0.0.1
webserver-port=$dns_api_port
webserver-allow-from=127.0.0.1/32
default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600
EOF
start pdns pdns_server "--config-dir=$work/pdns"

say "docker-registry on 127.0.0.1:$registry_port"
cat >"$work/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$registry_port
EOF
start registry docker-registry serve "$work/registry.yml"

say "etcd, kube-apiserver on https://127.0.0.1:$kube_port (test-only certificate), kube-controller-manager"
start etcd etcd --name ev --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "ev=http://127.0.0.1:$etcd_peer_port" --listen-metrics-urls "http://127.0.0.1:$etcd_metrics_port"
openssl genrsa -out "$work/sa.key" 2048 2>/dev/null
openssl rsa -in "$work/sa.key" -pubout -out "$work/sa.pub" 2>/dev/null
kube_token=$(secret secrets/local.yaml '["kube"]["token"]')
echo "$kube_token,ev-sandbox,ev-sandbox-uid,system:masters" >"$work/tokens.csv"
wait_port "$etcd_port" etcd
start kube-apiserver kube-apiserver "--etcd-servers=http://127.0.0.1:$etcd_port" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 "--secure-port=$kube_port" --insecure-port=0 \
  "--tls-cert-file=$repo/scripts/sandbox/apiserver.crt" "--tls-private-key-file=$repo/scripts/sandbox/apiserver.key" \
  "--token-auth-file=$work/tokens.csv" --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc --api-audiences=https://kubernetes.default.svc \
  "--service-account-key-file=$work/sa.pub" "--service-account-signing-key-file=$work/sa.key" \
  --service-cluster-ip-range=10.96.0.0/24 --endpoint-reconciler-type=none --disable-admission-plugins=ServiceAccount
# kubectl's own view of the sandbox cluster, to check what ev applied.
cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: https://127.0.0.1:$kube_port
    certificate-authority: $copy/magic/local-ca.crt
users:
- name: sandbox
  user:
    token: $kube_token
contexts:
- name: sandbox
  context: { cluster: sandbox, user: sandbox }
current-context: sandbox
EOF
chmod 600 "$work/kubeconfig"
k() { kubectl --kubeconfig "$work/kubeconfig" "$@"; }
wait_port "$dns_api_port" pdns
wait_port "$registry_port" registry
for _ in $(seq 1 300); do
  k get namespaces >/dev/null 2>&1 && break
  sleep 0.3
done
k get namespaces >/dev/null || fail "the API server did not come up (log: $work/kube-apiserver.log)"
start kube-controller-manager kube-controller-manager "--kubeconfig=$work/kubeconfig" --bind-address=127.0.0.1 \
  "--secure-port=$cm_port" --port=0 --leader-elect=false "--service-account-private-key-file=$work/sa.key" \
  --use-service-account-credentials=false \
  '--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-ttl,-bootstrapsigner,-tokencleaner,-csrsigning,-csrapproving,-csrcleaner'

# Where the servers listen, for magic/local.ev (an export of this stage).
cat >"$copy/exports/env/local/sandbox.json" <<EOF
{
  "root": "$copy",
  "profiles": "$work/profiles",
  "dns_port": $dns_port,
  "dns_api_port": $dns_api_port,
  "registry_port": $registry_port,
  "kube_port": $kube_port
}
EOF
mkdir -p "$work/profiles"
# Nix builds the machines from the git tree of the copy.
git -C "$copy" init -q
git -C "$copy" add -A
phase_done "start the servers"

ev() { "$EV" -C "$copy" -e local "$@"; }

if [[ -n ${EV_SANDBOX_KILL:-} ]]; then
  say "ev -e local apply --yes, killed with SIGKILL once three actions are applied"
  "$EV" -C "$copy" -e local apply --yes >"$work/killed-apply.log" 2>&1 &
  victim=$!
  journal=$copy/.ev/env/local/state.journal
  for _ in $(seq 1 600); do
    [[ -f $journal && $(wc -l <"$journal") -ge 3 ]] && break
    kill -0 "$victim" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$victim" 2>/dev/null || fail "ev finished before it could be killed (log: $work/killed-apply.log)"
  wait "$victim" 2>/dev/null || true
  echo "killed ev after $(wc -l <"$journal") journal entries"
  phase_done "apply, killed in the middle"
fi

say "ev -e local apply --yes"
ev apply --yes
phase_done "apply everything"

say "what the tools say"
report=${EV_SANDBOX_REPORT:-/dev/null}
: >"$report"
observe() {
  printf '%s %s\n' "$1" "$2" | tee -a "$report"
}
expect() {
  [[ $2 == "$3" ]] || fail "$1: the tool says '$2', expected '$3'"
}
dig_a() {
  dig @127.0.0.1 -p "$dns_port" +short +norecurse "$1" "${2:-A}" | sort | paste -sd, -
}
# Every zone is served, with the records the example declares.
for zone in andref.app yart.me yut.to yuto.ink yuto.sh yuto.wiki; do
  soa=$(dig_a "$zone" SOA)
  [[ -n $soa ]] || fail "dig: PowerDNS serves no zone $zone"
  observe "dig:$zone:SOA" "$soa"
  # The whole zone, by transfer: a record lost or written twice shows here.
  records=$(dig @127.0.0.1 -p "$dns_port" +noall +answer "$zone" AXFR | awk '$4 != "SOA" {print $1, $4, $5}' | sort)
  observe "dig:$zone:AXFR" "$(md5sum <<<"$records" | cut -c1-12) $(grep -c . <<<"$records") records"
done
expect "dig yuto.sh A" "$(dig_a yuto.sh)" "192.0.2.10"
observe "dig:yuto.sh:A" "$(dig_a yuto.sh)"
# From the jupiter stack's recorded outputs.
expect "dig ethane.yuto.sh A" "$(dig_a ethane.yuto.sh)" "203.0.113.7"
observe "dig:ethane.yuto.sh:A" "$(dig_a ethane.yuto.sh)"
# Every image pushed, the digest ev exported being the registry's.
for image in grand-central example-image andref-ipfs-depot autobrr seadexarr; do
  digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$registry_port/yutotakano/$image:latest")
  expect "skopeo inspect $image" "$digest" "$(cat "$copy/exports/env/local/whale/digests/$image.txt")"
  observe "skopeo:$image" "$digest"
done
# The apps, pinned to those digests.
grand_central=$(k -n apps get deployment grand-central -o 'jsonpath={.spec.template.spec.containers[0].image}')
expect "kubectl grand-central's image" "$grand_central" \
  "127.0.0.1:$registry_port/yutotakano/grand-central@$(cat "$copy/exports/env/local/whale/digests/grand-central.txt")"
observe "kubectl:grand-central:image" "$grand_central"
observe "kubectl:deployments" "$(k get deployments -A -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {end}')"
# Every object ev applies (not the pods and replica sets controllers make
# from them): one lost or applied twice shows here.
observe "kubectl:objects" "$(k get deployments,services,configmaps,secrets,ingresses,persistentvolumeclaims,networkpolicies,serviceaccounts -A -l app.kubernetes.io/managed-by=ev -o name | sort | paste -sd' ' -)"
k get deployment -n downloads qbittorrent >/dev/null || fail "kubectl: no qbittorrent in downloads (cluster andromeda)"
# Every machine built and activated into its profile.
for machine in sodium methanol ethane nixie serverref tilderef propane; do
  system=$(readlink -f "$work/profiles/$machine")
  [[ $system == /nix/store/*-nixos-system-$machine ]] || fail "profile $machine points at '$system'"
  grep -q "\"name\":\"$machine\"" "$system" || fail "the system of $machine does not describe it"
  observe "profile:$machine" "$system"
done
# No secret in anything ev wrote (state, journal, logs, rendered files,
# scratch, exports, flakes): every decrypted value of the example's secrets
# is looked for. (The test suite checks what ev printed.)
leaked=()
while IFS= read -r value; do
  [[ -z $value ]] && continue
  found=$(grep -rlF -- "$value" "$copy/.ev" "$copy/exports" "$copy/flake-profiles" | head -3 | paste -sd' ' - || true)
  [[ -z $found ]] || leaked+=("$found")
done < <(for f in "$copy"/secrets/*.yaml "$copy"/secrets/*.env; do
  sops --decrypt --output-type json "$f" | python3 -c '
import json, sys
def leaves(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x)
    elif isinstance(v, list):
        for x in v:
            yield from leaves(x)
    elif isinstance(v, str) and len(v) >= 8:
        yield v
for value in leaves(json.load(sys.stdin)):
    print(value)
'
done)
((${#leaked[@]} == 0)) || fail "a secret's value is in: ${leaked[*]}"
observe "secrets:leaked" "none"
phase_done "check through the tools"

say "ev -e local plan --detailed-exitcode: nothing left to do"
set +e
ev plan --detailed-exitcode
code=$?
set -e
[[ $code == 0 ]] || fail "the plan after apply is not empty (exit $code)"
phase_done "plan again (no changes)"

say "one DNS record and one app edited: a two-action plan, then apply"
sed -i 's/a("", "192.0.2.10")/a("", "192.0.2.11")/' "$copy/eight/yuto.sh.ev"
sed -i 's/"hello from milky-way"/"hello from the sandbox"/' "$copy/milky-way/apps.ev"
set +e
ev plan --detailed-exitcode
code=$?
set -e
[[ $code == 2 ]] || fail "the edits planned no change (exit $code)"
ev apply --yes
expect "dig yuto.sh A after the edit" "$(dig_a yuto.sh)" "192.0.2.11"
observe "dig:yuto.sh:A:edited" "$(dig_a yuto.sh)"
args=$(k -n apps get deployment http-echo -o 'jsonpath={.spec.template.spec.containers[0].args}')
[[ $args == *"hello from the sandbox"* ]] || fail "kubectl: http-echo runs with $args"
observe "kubectl:http-echo:args" "$args"
phase_done "edit, plan and apply"

say "done"
printf '  %s\n' "${phases[@]}"
printf '  %-34s %6.1f s\n' "total" "$((($(date +%s%N) - script_start) / 1000000))e-3"
