#!/bin/busybox sh
# /init of the test peer VM's initramfs: load the drivers the Debian kernel builds as
# modules (virtio disk and network, ext4, vfat), mount the root file system from the first
# disk (the copy-on-write volume over the base image) and hand over to its /sbin/init.
/bin/busybox mkdir -p /proc /sys /dev /sysroot /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules-load); do
  insmod "/lib/modules/$m" || echo "initramfs: insmod $m failed"
done
# The disk may show up a moment after its driver loads.
for i in $(seq 1 100); do
  [ -b /dev/vda ] && break
  sleep 0.1
done
if ! mount -t ext4 -o rw /dev/vda /sysroot; then
  echo "initramfs: cannot mount /dev/vda as the root file system"
  exec sh
fi
mount --move /dev /sysroot/dev
mount --move /proc /sysroot/proc
mount --move /sys /sysroot/sys
exec switch_root /sysroot /sbin/init
