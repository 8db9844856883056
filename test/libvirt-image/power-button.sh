#!/bin/sh
# Power button: stop udhcpc, which releases the DHCP lease as it exits (-R), then power off.
pid=$(cat /run/udhcpc.pid 2>/dev/null)
if [ -n "$pid" ]; then
  kill "$pid"
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
fi
sync
poweroff -f
