#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine (run as root): Debian packages
# for the real peers the tests use, Node 24 LTS from the npm registry (into /opt/node24, leaving
# the system's node alone), and every npm dependency, development ones included. The demo
# (scripts/demo.sh) needs far less and installs only that.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-lib.sh

DEBIAN_PACKAGES=(
  golang-go                          # builds the Go ttrpc peer used by interop tests
  golang-github-containerd-ttrpc-dev # containerd's Go ttrpc, the reference implementation
  golang-github-vmware-govmomi-dev   # govmomi's vSphere simulator (vcsim) for the vsphere provider tests
  iproute2                           # ip/tc: network namespaces, veth, vxlan
  openssl
  curl                               # HTTP from inside network namespaces (pod network, daemon tests)
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
# kubectl renders the kustomize manifests in tests; a kubectl from elsewhere is fine too.
command -v kubectl >/dev/null || DEBIAN_PACKAGES+=(kubernetes-client)
install_debian_packages "${DEBIAN_PACKAGES[@]}"

install_node24
export PATH="$NODE_PREFIX/bin:$PATH"
node --version

# The lock file holds an entry for every optional platform binary (buf for each OS), so a clean
# install of exactly the locked tree works on any machine.
npm ci --no-audit --no-fund
