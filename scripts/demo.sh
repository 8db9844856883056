#!/usr/bin/env bash
# Runs a peer pod's whole life on the embedded local provider: installs what is needed, starts
# the daemon, runs `echo hello` in a peer pod through it (CreateVM, StartVM, agent calls through
# peerpod-relay and the mutual-TLS forwarder, StopVM), then stops the daemon and the relay it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
bootstrap_log=$(mktemp)
bash scripts/bootstrap.sh >"$bootstrap_log" 2>&1 || { cat "$bootstrap_log" >&2; exit 1; }
rm -f "$bootstrap_log"
export PATH=/opt/node24/bin:$PATH

work=$(mktemp -d /tmp/caa-demo.XXXXXX)
export CAA_STATE_DIR=$work/state PODS_DIR=$work/pods REMOTE_HYPERVISOR_ENDPOINT=$work/hypervisor.sock RELAY_SOCKET=$work/relay.sock
export PROBE_PORT=${PROBE_PORT:-18000} LOG_LEVEL=${LOG_LEVEL:-warn} SOCKET_LINGER=100ms
node bin/cloud-api-adaptor.js local 2>"$work/daemon.log" &
daemon=$!
# The daemon starts peerpod-relay detached (it outlives daemon restarts); the demo stops it too.
relay_pid() { ss -xlpn 2>/dev/null | awk -v s="$RELAY_SOCKET" '$5 == s' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
cleanup() {
  local relay
  relay=$(relay_pid)
  kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  [[ -n $relay ]] && kill "$relay" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
(($#)) || set -- echo hello
node bin/peerpod-ctl.js run -v --socket "$REMOTE_HYPERVISOR_ENDPOINT" -- "$@"
