// Stands in for open-vm-tools' vmware-rpctool on a machine that is no VMware guest, with its
// exact command line and output: one argument, the RPC text ("info-get guestinfo.KEY"); the
// host's answer on stdout and exit 0; on failure the answer ("No value found" for an unset
// key) on stderr and exit 1; outside VMware, "Failed sending message to VMware." and exit 1.
//   node vmware-rpctool-standin.ts GUESTINFO.json|--not-vmware RPC-TEXT
import { readFileSync } from "node:fs";

const [where, ...args] = process.argv.slice(2);
if (args.length === 0) {
  process.stderr.write("rpctool syntax:\n\n  rpctool <text>\n\n");
  process.exit(1);
}
if (where === "--not-vmware") {
  process.stderr.write("Failed sending message to VMware.\n");
  process.exit(1);
}
const guestinfo = JSON.parse(readFileSync(where!, "utf8")) as Record<string, string>;
const m = /^info-get (\S+)$/.exec(args[0]!);
if (m === null) {
  process.stderr.write("Unknown command\n");
  process.exit(1);
}
const value = guestinfo[m[1]!];
if (value === undefined) {
  process.stderr.write("No value found\n");
  process.exit(1);
}
process.stdout.write(`${value}\n`);
