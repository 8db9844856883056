#!/bin/sh
# /sbin/init of the test peer VM: what cloud-init and systemd do on a real peer-pod image,
# in a few lines. Reads user-data and meta-data from the NoCloud "cidata" volume, starts the
# minimal agent (standing in for kata-agent) and the agent-protocol-forwarder with that
# user-data, and takes an address by DHCP. Kernel command line: peerpod.nonet=1 skips DHCP.
export PATH=/opt/node/bin:/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /run /tmp /mnt/cidata /run/kata-containers
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/kata-containers /run/peerpod
ip link set lo up

log() { echo "peerpod-init: $*" > /dev/console; }

# NoCloud: a vfat or iso9660 file system labelled cidata holding user-data and meta-data.
found=
for dev in /dev/vd[b-z]; do
  [ -b "$dev" ] || continue
  if mount -t vfat -o ro "$dev" /mnt/cidata 2>/dev/null; then
    if [ -f /mnt/cidata/user-data ]; then found=$dev; break; fi
    umount /mnt/cidata
  fi
done
if [ -z "$found" ]; then
  log "no cidata volume with user-data"
else
  name=$(sed -n 's/^local-hostname: *//p' /mnt/cidata/meta-data 2>/dev/null)
  [ -n "$name" ] && hostname "$name"
  log "user-data from $found (hostname ${name:-unset})"
  cd /opt/caa
  node src/cli/minimal-agent.js --socket /run/kata-containers/agent.sock > /dev/console 2>&1 &
  node src/cli/agent-protocol-forwarder.js --user-data /mnt/cidata/user-data --kata-agent-socket /run/kata-containers/agent.sock > /dev/console 2>&1 &
fi

iface=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
if grep -q 'peerpod.nonet=1' /proc/cmdline; then
  log "peerpod.nonet=1: no DHCP"
elif [ -n "$iface" ]; then
  ip link set "$iface" up
  # -R: release the lease when stopped, so the network forgets this VM at shutdown.
  udhcpc -i "$iface" -s /usr/share/udhcpc/default.script -x hostname:"$(hostname)" -t 60 -T 1 -R -S -p /run/udhcpc.pid > /dev/console 2>&1 &
else
  log "no network interface"
fi

# The power button (ACPI shutdown from libvirt) ends the VM cleanly.
acpid -c /etc/acpi -l /run/acpid.log

# PID 1 reaps orphans for the life of the VM.
while true; do
  wait
  sleep 5
done
