#!/usr/bin/env bash
# Builds the cloud-api-adaptor image without any image registry, then proves it runs a peer
# pod's whole life on the local provider. Run as root on Debian 12; takes about 3 minutes.
#
#   bash scripts/build-image.sh            build the base (once) and the image, then run a pod
#   bash scripts/build-image.sh --no-run   build only
#
# Environment: IMAGE (default localhost/cloud-api-adaptor:dev), BASE_IMAGE (default
# localhost/caa-base:bookworm-node24), REBUILD_BASE=1 to make the base again, DEBIAN_MIRROR,
# NODE_PREFIX (where Node 24 is, default /opt/node24), WORK (scratch folder).
#
# Why this way: no registry is reachable, so the official node:24-bookworm-slim base the
# Dockerfile defaults to cannot be pulled; the base is made here instead (debootstrap of Debian 12
# plus Node 24 from the npm registry), with the same layout (node and npm in /usr/local/bin).
# `docker` on these machines is only a client: `docker build` answers "Cannot connect to the
# Docker daemon at unix:///var/run/docker.sock". Debian's buildah builds with vfs storage and
# chroot isolation, and Debian's podman runs the result, with these settings:
#   - runc with the cgroupfs manager: crun stops with "cgroups in hybrid mode not supported,
#     drop all controllers from cgroupv2" on this host's mixed cgroup v1/v2 layout;
#   - no default ulimits: the host lacks CAP_SYS_RESOURCE, so podman's default raise fails with
#     "crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted";
#   - host network, and the local provider in loopback mode, so the check touches no host interface;
#   - the HEALTHCHECK is run on demand (`podman healthcheck run`): podman's periodic timers need
#     systemd, which is absent (podman logs "unable to get systemd connection", harmlessly).
set -euo pipefail
cd "$(dirname "$0")/.."

run_pod=1
case "${1:-}" in
  "") ;;
  --no-run) run_pod=0 ;;
  *) echo "usage: $0 [--no-run]" >&2; exit 2 ;;
esac

IMAGE=${IMAGE:-localhost/cloud-api-adaptor:dev}
BASE_IMAGE=${BASE_IMAGE:-localhost/caa-base:bookworm-node24}
# The Debian mirror this machine's apt already uses (debian.sources, else sources.list).
apt_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 ~ /^http/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "$uri"
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(apt_mirror)}
[ -n "$DEBIAN_MIRROR" ] || { echo "build-image: no Debian mirror found in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }
NODE_PREFIX=${NODE_PREFIX:-/opt/node24}
WORK=${WORK:-/var/tmp/caa-image-build}
PROBE_PORT=${PROBE_PORT:-18321}
WEBHOOK_PORT=${WEBHOOK_PORT:-18443}

buildah=(buildah --storage-driver vfs)
podman=(podman --storage-driver vfs --runtime runc --cgroup-manager cgroupfs)

step() { printf '\n== %s\n' "$*" >&2; }

step "tools (Debian packages)"
source scripts/install-lib.sh
install_debian_packages buildah debootstrap podman runc ca-certificates curl openssl
mkdir -p "$WORK"
printf '[containers]\ndefault_ulimits = []\n' >"$WORK/containers.conf"
export CONTAINERS_CONF="$WORK/containers.conf"

node_binary() {
  if ! "$NODE_PREFIX/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
    npm install -g --prefix "$NODE_PREFIX" node@24 --allow-scripts=node >/dev/null 2>&1 || npm install -g --prefix "$NODE_PREFIX" node@24 >&2
  fi
  readlink -f "$NODE_PREFIX/bin/node"
}

make_base() {
  step "base image $BASE_IMAGE: Debian 12 (debootstrap) + Node 24 + npm"
  local rootfs="$WORK/rootfs"
  rm -rf "$rootfs" "$WORK/base.tar"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # The image trusts what this machine trusts (a TLS-inspecting proxy's CA, for instance), so
  # npm and apt inside the build reach the registries the way the host does.
  local extra_cas=0
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
    extra_cas=1
  fi
  install -m 0755 "$(node_binary)" "$rootfs/usr/local/bin/node"
  npm install -g --prefix "$rootfs/usr/local" npm@11 --no-audit --no-fund >/dev/null
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -cf "$WORK/base.tar" .
  local ctr
  ctr=$("${buildah[@]}" from scratch)
  "${buildah[@]}" add "$ctr" "$WORK/base.tar" / >/dev/null
  "${buildah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$ctr"
  # Node keeps its own CA list; point it at the system's when the host added CAs of its own.
  ((extra_cas)) && "${buildah[@]}" config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$ctr"
  "${buildah[@]}" commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs" "$WORK/base.tar"
}

if [[ ${REBUILD_BASE:-0} == 1 ]] || ! "${buildah[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  make_base
else
  step "base image $BASE_IMAGE already built (REBUILD_BASE=1 makes it again)"
fi

step "image $IMAGE (Dockerfile, BASE_IMAGE=$BASE_IMAGE)"
# --format docker keeps the HEALTHCHECK (the OCI image format has no place for it).
"${buildah[@]}" bud --isolation chroot --format docker \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; exit 1; }
# vfs keeps full copies: drop the image this build replaced (now untagged). A container still
# running from it (an earlier check cut short) keeps it; that costs disk, not this build.
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || echo "build-image: an older image is still in use by a container; left in place" >&2
"${buildah[@]}" images "$IMAGE"
((run_pod)) || exit 0

step "a peer pod's life in the image (local provider)"
name=caa-image-check-$$
state=$(mktemp -d "$WORK/run.XXXXXX")
mkdir -p "$state/var" "$state/run"
cleanup() {
  "${podman[@]}" rm -f "$name" "$name-webhook" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
# As the DaemonSet runs it (deploy/base/daemonset.yaml): root, only NET_ADMIN and SYS_ADMIN,
# read-only root file system with /tmp, the socket and state folders from the host.
"${podman[@]}" run -d --name "$name" --network host --read-only --tmpfs /tmp \
  --cap-drop ALL --cap-add NET_ADMIN,SYS_ADMIN \
  -e CLOUD_PROVIDER=local -e LOCAL_NETWORK=loopback -e PROBE_PORT="$PROBE_PORT" -e SOCKET_LINGER=100ms \
  -v "$state/var:/var/lib/cloud-api-adaptor" -v "$state/run:/run/peerpod" \
  "$IMAGE" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; exit 1; }
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz" >/dev/null 2>&1 && break
  [[ $("${podman[@]}" inspect -f '{{.State.Running}}' "$name") == true ]] || { "${podman[@]}" logs "$name" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz" >&2
out=$("${podman[@]}" exec "$name" peerpod-ctl run -- sh -c 'echo hello from a peer pod')
echo "$out"
[[ $out == "hello from a peer pod" ]] || { echo "unexpected pod output: $out" >&2; "${podman[@]}" logs "$name" >&2; exit 1; }
"${podman[@]}" healthcheck run "$name" 2>/dev/null || { echo "the image's HEALTHCHECK failed" >&2; exit 1; }
echo "healthcheck: healthy" >&2
"${podman[@]}" stop -t 20 "$name" >/dev/null 2>&1
code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || { echo "the daemon exited $code on SIGTERM" >&2; exit 1; }

step "the peer-pods webhook in the image (as its Deployment runs it: uid 65532, no capabilities)"
mkdir -p "$state/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$state/tls/tls.key" -out "$state/tls/tls.crt" 2>/dev/null
chmod 0644 "$state/tls/tls.key" # the Secret volume gives the webhook's group read access
"${podman[@]}" run -d --name "$name-webhook" --network host --read-only --user 65532:65532 --cap-drop ALL \
  -e WEBHOOK_PORT="$WEBHOOK_PORT" -e TLS_CERT_FILE=/tls/tls.crt -e TLS_KEY_FILE=/tls/tls.key -v "$state/tls:/tls:ro" \
  --entrypoint peerpods-webhook "$IMAGE" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; exit 1; }
for _ in $(seq 1 60); do
  curl -fsS --cacert "$state/tls/tls.crt" "https://localhost:$WEBHOOK_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"check","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"default","operation":"CREATE","object":{"metadata":{"name":"p"},"spec":{"runtimeClassName":"kata-remote","containers":[{"name":"a","image":"x","resources":{"requests":{"cpu":"1500m","memory":"1Gi"}}}]}}}}'
answer=$(curl -fsS --cacert "$state/tls/tls.crt" -H 'content-type: application/json' -d "$review" "https://localhost:$WEBHOOK_PORT/mutate-v1-pod") \
  || { "${podman[@]}" logs "$name-webhook" >&2; exit 1; }
patch=$(node -e 'const r = JSON.parse(process.argv[1]).response; if (!r.allowed || r.patchType !== "JSONPatch") process.exit(1); console.log(Buffer.from(r.patch, "base64").toString())' "$answer") \
  || { echo "unexpected webhook answer: $answer" >&2; exit 1; }
echo "webhook patch: $patch"
echo "image $IMAGE: built, ran a pod on the local provider, stopped cleanly, served the webhook" >&2
