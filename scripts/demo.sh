#!/usr/bin/env bash
# Runs a peer pod's whole life on the embedded local provider: installs what that needs, starts
# the daemon, runs `echo hello` in a peer pod through it (CreateVM, StartVM, agent calls through
# peerpod-relay and the mutual-TLS forwarder, StopVM), then stops the daemon and the relay it
# started.
#
# It installs only what the local provider needs (iproute2 and curl, Node 24, the npm packages
# the binaries import); the test suite's world (Go, QEMU, libvirt, a kernel, the simulators,
# the development packages) is scripts/bootstrap.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-lib.sh

install_log=$(mktemp)
install_for_local_provider() {
  # ip: each local VM's network namespace (as root); ss: finding the relay to stop it.
  install_debian_packages iproute2 curl # curl: the daemon's readiness probe
  install_node24
  export PATH="$NODE_PREFIX/bin:$PATH"
  # The packages the binaries import; a full install (scripts/bootstrap.sh) already has them.
  npm ls --omit=dev --depth=0 >/dev/null 2>&1 || npm ci --omit=dev --no-audit --no-fund
}
install_for_local_provider >"$install_log" 2>&1 || { cat "$install_log" >&2; exit 1; }
rm -f "$install_log"

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
# Up to a minute: a loaded machine starts Node slowly; a ready daemon ends the wait at once.
ready=false
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz" >/dev/null 2>&1 && { ready=true; break; }
  kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
if ! $ready; then
  cat "$work/daemon.log" >&2
  echo "demo: the daemon was not ready within a minute (http://127.0.0.1:$PROBE_PORT/readyz)" >&2
  exit 1
fi
(($#)) || set -- echo hello
node bin/peerpod-ctl.js run -v --socket "$REMOTE_HYPERVISOR_ENDPOINT" -- "$@"
