#!/usr/bin/env bash
# Installs what the daemon and its test suite need on a fresh Debian 12 machine (run as root):
# Debian packages for the real peers the tests use, Node 24 LTS from the npm registry (into
# /opt/node24, leaving the system's node alone), and the project's npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_PREFIX=${NODE_PREFIX:-/opt/node24}
DEBIAN_PACKAGES=(
  golang-go                          # builds the Go ttrpc peer used by interop tests
  golang-github-containerd-ttrpc-dev # containerd's Go ttrpc, the reference implementation
  golang-github-vmware-govmomi-dev   # govmomi's vSphere simulator (vcsim) for the vsphere provider tests
  iproute2                           # ip/tc: network namespaces, veth, vxlan
  openssl
  curl                               # the demo polls the daemon's readiness probe
  iputils-ping                       # tunnel tests ping through VXLAN
  util-linux                         # nsenter, setpriv
  procps
  # libvirt provider: a real libvirtd, QEMU, and what the test peer VM image is built from
  libvirt-daemon-system libvirt-clients dnsmasq-base
  qemu-system-x86 qemu-utils
  linux-image-amd64 busybox-static cpio e2fsprogs
  dosfstools mtools                  # the cidata image test checks our FAT image with them
  openssh-server netcat-openbsd      # the qemu+ssh transport test's private sshd
  python3-libvirt                    # bench:libvirt compares with libvirt's C client
  # the peer-pod image (podvm/build.sh) and its UEFI boot under the libvirt provider
  mmdebstrap fdisk ovmf
)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${DEBIAN_PACKAGES[@]%%#*}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl renders the kustomize manifests in tests; a kubectl from elsewhere is fine too.
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if ((${#missing[@]})); then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! "$NODE_PREFIX/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
  npm install -g --prefix "$NODE_PREFIX" node@24 --allow-scripts=node >/dev/null 2>&1 || npm install -g --prefix "$NODE_PREFIX" node@24
fi
export PATH="$NODE_PREFIX/bin:$PATH"
node --version

# The lock file holds an entry for every optional platform binary (buf for each OS), so a clean
# install of exactly the locked tree works on any machine.
npm ci --no-audit --no-fund
