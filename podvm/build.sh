#!/usr/bin/env bash
# Builds the peer-pod VM image every provider boots, on Debian 12 as root, from Debian
# packages only (mmdebstrap from the mirror apt already uses):
#
#   bash podvm/build.sh --out DIR --kata-agent PATH|minimal [--formats qcow2,raw,vhd,ova]
#                       [--guest-components DIR] [--operator-certs DIR]
#
# Debian 12 with systemd and Debian's cloud kernel, systemd-boot on an EFI system partition
# (the disk boots by itself under UEFI) and GRUB in a BIOS boot partition (and under BIOS),
# root locked, no getty, no sshd. Outputs in DIR:
# podvm.raw, podvm.qcow2, podvm.vhd (fixed), podvm.ova (OVF + stream-optimised VMDK) and
# podvm.json. Same inputs and SOURCE_DATE_EPOCH (default: the commit time of HEAD) give the
# same podvm.raw bytes. Environment: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, SOURCE_DATE_EPOCH,
# PODVM_APT_CACHE (a folder keeping downloaded packages between builds), TMPDIR.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
export PATH=/opt/node24/bin:$PATH

usage() { echo "usage: bash podvm/build.sh --out DIR --kata-agent PATH|minimal [--formats qcow2,raw,vhd,ova] [--guest-components DIR] [--operator-certs DIR]" >&2; exit 2; }
fail() { echo "podvm/build.sh: $*" >&2; exit 1; }
step() { printf '== %s\n' "$*" >&2; }

out= kata_agent= formats=qcow2,raw,vhd,ova guest_components= operator_certs=
while (($#)); do
  case "$1" in
    --out) out=${2:-}; shift 2 || usage ;;
    --kata-agent) kata_agent=${2:-}; shift 2 || usage ;;
    --formats) formats=${2:-}; shift 2 || usage ;;
    --guest-components) guest_components=${2:-}; shift 2 || usage ;;
    --operator-certs) operator_certs=${2:-}; shift 2 || usage ;;
    -h|--help) usage ;;
    *) echo "podvm/build.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$out" ] || { echo "podvm/build.sh: --out DIR is required" >&2; usage; }
if [ -z "$kata_agent" ]; then
  cat >&2 <<'MSG'
podvm/build.sh: --kata-agent is required:
  --kata-agent PATH     the kata-agent binary of a Kata Containers release (built from
                        kata-containers/src/agent, statically linked, x86-64), for production;
  --kata-agent minimal  the project's minimal agent, for development and tests (it runs
                        processes but pulls no images and enforces no policy).
MSG
  exit 2
fi
if [ "$kata_agent" != minimal ]; then
  [ -f "$kata_agent" ] && [ -x "$kata_agent" ] || fail "--kata-agent $kata_agent: not an executable file (expected the kata-agent binary, or 'minimal')"
fi
IFS=, read -r -a format_list <<<"$formats"
for f in "${format_list[@]}"; do
  case "$f" in qcow2|raw|vhd|ova) ;; *) fail "--formats $formats: unknown format '$f' (expected a comma-separated list of qcow2, raw, vhd, ova)" ;; esac
done
if [ -n "$guest_components" ]; then
  [ -d "$guest_components" ] || fail "--guest-components $guest_components: not a folder"
  [ -x "$guest_components/attestation-agent" ] || [ -x "$guest_components/confidential-data-hub" ] ||
    fail "--guest-components $guest_components: holds neither attestation-agent nor confidential-data-hub"
fi
# For a daemon with operator certificates (CACERT_FILE, CERT_FILE, CERT_KEY), which sends the
# VMs no TLS material: the forwarder's own certificate, its key and the CA the daemon's client
# certificate chains to.
if [ -n "$operator_certs" ]; then
  for f in ca.crt tls.crt tls.key; do
    [ -f "$operator_certs/$f" ] || fail "--operator-certs $operator_certs: no $f there (expected ca.crt, tls.crt and tls.key in PEM)"
  done
  grep -q -- "-----BEGIN CERTIFICATE-----" "$operator_certs/ca.crt" || fail "--operator-certs $operator_certs: ca.crt is not a PEM certificate"
  grep -q -- "-----BEGIN CERTIFICATE-----" "$operator_certs/tls.crt" || fail "--operator-certs $operator_certs: tls.crt is not a PEM certificate"
  grep -Eq -- "-----BEGIN [A-Z ]*PRIVATE KEY-----" "$operator_certs/tls.key" || fail "--operator-certs $operator_certs: tls.key is not a PEM private key"
fi
[ "$(id -u)" = 0 ] || fail "run as root (mmdebstrap makes the root file system as root)"

# The Debian mirror this machine's apt already uses (debian.sources, else sources.list).
apt_uri() {
  local want=$1 uri
  uri=$(awk -v w="$want" '/^URIs:/ && ($2 ~ w) == (w != "") {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk -v w="$want" '$1 == "deb" && $2 ~ /^http/ && ($2 ~ w) == (w != "") {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "$uri"
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[ -n "$DEBIAN_MIRROR" ] || DEBIAN_MIRROR=$(awk '$1 == "deb" && $2 ~ /^http/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$DEBIAN_MIRROR" ] || fail "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 1700000000)}

step "tools (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in mmdebstrap qemu-utils dosfstools mtools fdisk e2fsprogs gcc libc6-dev grub-pc-bin; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/podvm-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
root=$WORK/root

step "agent-protocol-forwarder (single executable)"
node "$HERE/forwarder-sea/build.ts" --out "$WORK/agent-protocol-forwarder"

# Fixed identities, so the same inputs give the same bytes.
DISK_GUID=7d1f4c55-8f0e-4d8b-9d1e-2f1a0c9b7a01
ESP_UUID=7d1f4c55-8f0e-4d8b-9d1e-2f1a0c9b7a02
ROOT_PARTUUID=7d1f4c55-8f0e-4d8b-9d1e-2f1a0c9b7a03
ROOT_FSUUID=7d1f4c55-8f0e-4d8b-9d1e-2f1a0c9b7a04
BIOS_PARTUUID=7d1f4c55-8f0e-4d8b-9d1e-2f1a0c9b7a05
ESP_SERIAL=5044564d

step "root file system: Debian 12 (mmdebstrap from $DEBIAN_MIRROR)"
sources=("deb $DEBIAN_MIRROR bookworm main" "deb $DEBIAN_MIRROR bookworm-updates main")
[ -z "$DEBIAN_SECURITY_MIRROR" ] || sources+=("deb $DEBIAN_SECURITY_MIRROR bookworm-security main")
packages=(
  systemd systemd-sysv udev dbus          # init, device names, logind for the power button
  linux-image-cloud-amd64 initramfs-tools # virtio, NVMe/ENA, Hyper-V and VMware drivers
  zstd                                    # the initrd's compression (quick to unpack)
  systemd-boot-efi                        # the UEFI boot loader put on the ESP below
  systemd-resolved                        # DNS from DHCP, for kata-agent's image pulls
  iproute2 kmod                           # the forwarder's podns and VXLAN end
  ca-certificates                         # kata-agent's image pulls over TLS
  open-vm-tools                           # vmware-rpctool: vSphere guestinfo user-data
)
# The initrd holds only what finds the root disk on each platform (virtio, Xen, Hyper-V,
# VMware, SCSI disks; NVMe and ext4 are built into the kernel): a third of the default's
# size, so less to unpack and fewer modules to probe on every boot. It is made again once
# zstd is surely installed (the kernel's own postinst may run before it).
initrd_modules="virtio_pci virtio_blk virtio_scsi sd_mod xen_blkfront hv_vmbus hv_storvsc vmw_pvscsi ata_piix"
cache_hooks=()
if [ -n "${PODVM_APT_CACHE:-}" ]; then
  mkdir -p "$PODVM_APT_CACHE"
  cache_hooks=(--skip=download/empty
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/'
    --setup-hook="sync-in $PODVM_APT_CACHE /var/cache/apt/archives/"
    --customize-hook="sync-out /var/cache/apt/archives $PODVM_APT_CACHE")
fi
mmdebstrap --mode=root --variant=minbase --format=directory \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && printf "COMPRESS=zstd\nMODULES=list\n" > "$1/etc/initramfs-tools/conf.d/podvm.conf"' \
  --essential-hook="mkdir -p \"\$1/usr/share/initramfs-tools/modules.d\" && printf '%s\n' $initrd_modules > \"\$1/usr/share/initramfs-tools/modules.d/podvm\"" \
  "${cache_hooks[@]}" \
  --customize-hook='chroot "$1" update-initramfs -u -k all' \
  --customize-hook='sed -n "s/^Date: //p" "$1"/var/lib/apt/lists/*bookworm_InRelease | head -n 1 > "$1/../debian-date"' \
  --customize-hook='chroot "$1" dpkg-query -W -f "\${Version}" linux-image-cloud-amd64 > "$1/../kernel-package"' \
  bookworm "$root" "${sources[@]}" >&2

step "image configuration"
cp -a "$HERE/files/." "$root/"
install -m 0755 "$WORK/agent-protocol-forwarder" "$root/usr/local/bin/agent-protocol-forwarder"
if [ "$kata_agent" = minimal ]; then
  agent_version="$(node -p 'require(process.argv[1]).version' "$REPO/package.json")-minimal"
  # The project's minimal agent is a role of the forwarder's executable.
  # A drop-in folder git cannot carry empty: made here.
  mkdir -p "$root/etc/systemd/system/kata-agent.service.d"
  cat >"$root/etc/systemd/system/kata-agent.service.d/minimal.conf" <<'UNIT'
# --kata-agent minimal: the project's minimal agent stands in for kata-agent.
[Service]
ExecStart=
ExecStart=/usr/local/bin/agent-protocol-forwarder minimal-agent --socket /run/kata-containers/agent.sock
UNIT
else
  install -m 0755 "$kata_agent" "$root/usr/local/bin/kata-agent"
  agent_version=$("$kata_agent" --version 2>/dev/null | head -n 1 || true)
  [ -n "$agent_version" ] || agent_version="sha256:$(sha256sum "$kata_agent" | cut -d' ' -f1)"
fi
# The pod's sandbox container: kata-agent starts it from /pause_bundle (config.json's process,
# with the file its args[0] names copied from rootfs/). A static program built here from
# Debian's gcc and glibc, so nothing is pulled from a registry at build or boot time.
install -d -m 0755 "$root/pause_bundle" "$root/pause_bundle/rootfs"
(cd "$HERE/pause" && gcc -static -O2 -s -Wall -Wextra -Werror -Wl,--build-id=none -o "$WORK/pause" pause.c)
install -m 0755 "$WORK/pause" "$root/pause_bundle/rootfs/pause"
install -m 0644 "$HERE/pause/config.json" "$root/pause_bundle/config.json"
if [ -n "$guest_components" ]; then
  for c in attestation-agent confidential-data-hub; do
    [ -x "$guest_components/$c" ] || continue
    install -m 0755 "$guest_components/$c" "$root/usr/local/bin/$c"
    cp "$HERE/guest-components/$c.service" "$root/etc/systemd/system/"
    chroot "$root" systemctl enable "$c.service" >&2
  done
fi
if [ -n "$operator_certs" ]; then
  install -d -m 0700 "$root/etc/peerpod" "$root/etc/peerpod/tls"
  install -m 0644 "$operator_certs/ca.crt" "$root/etc/peerpod/tls/ca.crt"
  install -m 0644 "$operator_certs/tls.crt" "$root/etc/peerpod/tls/tls.crt"
  install -m 0600 "$operator_certs/tls.key" "$root/etc/peerpod/tls/tls.key"
fi
chroot "$root" systemctl enable podvm-provision.service kata-agent.service agent-protocol-forwarder.service systemd-networkd.service >&2
# No logins of any kind: root stays locked, no getty on any console, no sshd is installed.
chroot "$root" systemctl mask getty@.service serial-getty@.service console-getty.service getty.target >&2
# Boot time: what a one-pod VM with a volatile journal never needs.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
  dpkg-db-backup.timer systemd-journal-flush.service systemd-random-seed.service systemd-update-utmp.service \
  systemd-pstore.service systemd-boot-update.service systemd-boot-system-token.service >&2
# Boot time: early units and kernel modules of a general-purpose machine (graphics, device
# mapper, debug and trace file systems, network units from the kernel command line).
chroot "$root" systemctl mask modprobe@drm.service modprobe@dm_mod.service sys-kernel-debug.mount \
  sys-kernel-tracing.mount dev-hugepages.mount systemd-network-generator.service >&2
# Generators for what this image has not: encrypted, verity or integrity volumes, hibernation,
# SysV scripts, rc.local, gettys, discoverable partitions, offline updates.
mkdir -p "$root/etc/systemd/system-generators"
for g in cryptsetup veritysetup integritysetup hibernate-resume sysv rc-local getty gpt-auto system-update; do
  ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-$g-generator"
done
chroot "$root" systemctl set-default multi-user.target >&2
chroot "$root" passwd -l root >&2
: >"$root/etc/machine-id"
echo podvm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf 'LABEL=podvm-root / ext4 rw,noatime,errors=remount-ro 0 1\n' >"$root/etc/fstab"
ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

kernel_file=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1)
kernel_version=${kernel_file#vmlinuz-}
[ -f "$root/boot/initrd.img-$kernel_version" ] || fail "no initrd for kernel $kernel_version in the root file system"
cp "$root/boot/vmlinuz-$kernel_version" "$WORK/vmlinuz"
cp "$root/boot/initrd.img-$kernel_version" "$WORK/initrd.img"
cp "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$WORK/BOOTX64.EFI"
debian_date=$(cat "$WORK/debian-date" 2>/dev/null || true)
rm -f "$root/../debian-date" "$root/../kernel-package"
# Caches that differ from build to build and are rebuilt at boot when needed.
rm -rf "$root/var/cache/apt/"*.bin "$root/var/lib/apt/lists/"* "$root/var/log/"*.log "$root/var/cache/debconf/"*-old
rm -f "$root/var/cache/ldconfig/aux-cache" "$root/var/log/apt/"*.log "$root/var/lib/dpkg/"*-old
# Every modification time no later than SOURCE_DATE_EPOCH (access and change times are set
# in the file system below: mke2fs copies them from the files it reads).
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"

step "EFI system partition (systemd-boot, kernel $kernel_version)"
# One console, the serial port the providers log (a second, VGA, console doubles the writes).
cmdline="root=PARTUUID=$ROOT_PARTUUID rw rootwait console=ttyS0,115200n8 net.ifnames=0 quiet systemd.show_status=error"
esp_files=$WORK/esp
mkdir -p "$esp_files"
printf 'timeout 0\ndefault podvm.conf\neditor no\nrandom-seed-mode off\n' >"$esp_files/loader.conf"
printf 'title Peer-pod VM\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n' "$cmdline" >"$esp_files/podvm.conf"
touch --date="@$SOURCE_DATE_EPOCH" "$esp_files"/* "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/BOOTX64.EFI"
esp_mib=$(( ( $(stat -c %s "$WORK/vmlinuz") + $(stat -c %s "$WORK/initrd.img") + $(stat -c %s "$WORK/BOOTX64.EFI") ) / 1048576 + 40 ))
esp=$WORK/esp.img
mkfs.vfat -C --invariant -i "$ESP_SERIAL" -n PODVM-ESP -F 32 "$esp" $((esp_mib * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
mcopy -m -i "$esp" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -m -i "$esp" "$esp_files/loader.conf" ::/loader/loader.conf
mcopy -m -i "$esp" "$esp_files/podvm.conf" ::/loader/entries/podvm.conf
mcopy -m -i "$esp" "$WORK/vmlinuz" ::/vmlinuz
mcopy -m -i "$esp" "$WORK/initrd.img" ::/initrd.img

step "BIOS boot (GRUB core image)"
# For BIOS firmware (and the providers' BIOS-only machine types): GRUB's boot sector in the
# protective MBR loads its core image from the BIOS boot partition (sectors 34-2047, before the
# ESP); the core image's embedded configuration boots the ESP's kernel and initrd with the same
# command line. No GRUB files on any file system, no menu, no timeout.
bios_first=34 bios_sectors=2014
grub_dir=/usr/lib/grub/i386-pc
printf 'set root=(hd0,gpt1)\nlinux /vmlinuz %s\ninitrd /initrd.img\nboot\n' "$cmdline" >"$WORK/grub-early.cfg"
grub-mkimage -O i386-pc -d "$grub_dir" -o "$WORK/grub-core.img" -p "(hd0,gpt1)/grub" -c "$WORK/grub-early.cfg" \
  biosdisk part_gpt fat linux boot
core_sectors=$(( ($(stat -c %s "$WORK/grub-core.img") + 511) / 512 ))
((core_sectors <= bios_sectors)) || fail "GRUB's core image ($core_sectors sectors) does not fit the BIOS boot partition ($bios_sectors)"
# What grub-bios-setup would patch: the boot sector's LBA of the core image (offset 0x5c), its
# boot drive check turned into NOPs (0x66; BIOSes that pass a wrong drive number), and the core
# image's first blocklist entry (0x1f4: the LBA of its second sector; the length is already
# set by grub-mkimage).
le64() { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }
head -c 440 "$grub_dir/boot.img" >"$WORK/grub-mbr"
le64 "$bios_first" | dd of="$WORK/grub-mbr" bs=1 seek=$((0x5c)) conv=notrunc status=none
printf '\x90\x90' | dd of="$WORK/grub-mbr" bs=1 seek=$((0x66)) conv=notrunc status=none
le64 $((bios_first + 1)) | dd of="$WORK/grub-core.img" bs=1 seek=$((0x1f4)) conv=notrunc status=none

step "root partition (ext4)"
root_kib=$(du -sk --apparent-size "$root" | cut -f1)
# Room to spare for what the VM writes (container layers land in memory, under /run).
root_mib=$(( root_kib * 13 / 10 / 1024 + 256 ))
rootimg=$WORK/root.ext4
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
mke2fs -q -F -t ext4 -L podvm-root -U "$ROOT_FSUUID" \
  -E "hash_seed=$ROOT_FSUUID,root_owner=0:0,lazy_itable_init=0,nodiscard" -d "$root" "$rootimg" "${root_mib}M"
# mke2fs -d copies each file's change time (the build's clock; no tool can set it) and access
# time (which its own reading moves) into the inode: both are set to SOURCE_DATE_EPOCH here,
# with the file system's "last written" time (E2FSPROGS_FAKE_TIME keeps debugfs's own stamps
# fixed too).
{
  printf 'ssv mtime %s
' "$SOURCE_DATE_EPOCH"
  printf 'sif / ctime @%s
sif / atime @%s
' "$SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH"
  (cd "$root" && find . -mindepth 1 -printf '%P\0') | while IFS= read -r -d '' p; do
    # debugfs takes everything between double quotes literally (backslashes too).
    case "$p" in *'"'*) fail "a path debugfs cannot quote: $p" ;; esac
    printf 'sif "/%s" ctime @%s
sif "/%s" atime @%s
' "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH"
  done
  printf 'sif "/lost+found" ctime @%s
sif "/lost+found" atime @%s
' "$SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH"
} >"$WORK/clamp-times.debugfs"
debugfs -w -f "$WORK/clamp-times.debugfs" "$rootimg" >"$WORK/clamp-times.log" 2>&1 ||
  fail "debugfs could not set the time stamps (log: $(tail -n 5 "$WORK/clamp-times.log"))"
unset E2FSPROGS_FAKE_TIME

step "disk (GPT: ESP + root + BIOS boot)"
raw=$WORK/podvm.raw
total_mib=$(( 1 + esp_mib + root_mib + 1 ))
truncate -s "${total_mib}M" "$raw"
sfdisk -q "$raw" <<SFDISK
label: gpt
label-id: $DISK_GUID
unit: sectors
first-lba: $bios_first
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$ESP_UUID, name="esp"
start=$(( (1 + esp_mib) * 2048 )), size=$((root_mib * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$ROOT_PARTUUID, name="root"
start=$bios_first, size=$bios_sectors, type=21686148-6E49-6F70-744E-656564454649, uuid=$BIOS_PARTUUID, name="bios"
SFDISK
# The boot code area of the protective MBR (its partition entry and signature stay), then the
# core image at the start of the BIOS boot partition.
dd if="$WORK/grub-mbr" of="$raw" bs=1 conv=notrunc status=none
dd if="$WORK/grub-core.img" of="$raw" bs=512 seek="$bios_first" conv=notrunc status=none
dd if="$esp" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$rootimg" of="$raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none

step "formats: $formats"
rm -f "$out"/podvm.raw "$out"/podvm.qcow2 "$out"/podvm.vhd "$out"/podvm.ova "$out"/podvm.json
for f in "${format_list[@]}"; do
  case "$f" in
    raw) cp --sparse=always "$raw" "$out/podvm.raw" ;;
    qcow2) qemu-img convert -f raw -O qcow2 -c "$raw" "$out/podvm.qcow2" ;;
    # Azure: a fixed VHD whose virtual size is exactly the raw's whole number of MiB.
    vhd) qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$raw" "$out/podvm.vhd" ;;
    ova) bash "$HERE/make-ova.sh" "$raw" "$out/podvm.ova" "$WORK/ova" ;;
  esac
done

step "podvm.json"
node "$HERE/manifest.ts" --out "$out" --debian-date "$debian_date" --kernel "$kernel_version" \
  --kata-agent "$agent_version" --forwarder "$WORK/agent-protocol-forwarder" --source-date-epoch "$SOURCE_DATE_EPOCH" >"$out/podvm.json"
cat "$out/podvm.json" >&2
