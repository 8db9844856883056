// NoCloud (libvirt and other local hypervisors): a vfat or iso9660 volume labelled CIDATA
// holding user-data and meta-data. Mounted read-only for the read, then let go.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { SourceError, type UserDataSource } from "./source-error.ts";

const run = promisify(execFile);
const LABELS = ["CIDATA", "cidata"];

export function noCloudSource(o: { byLabelDir?: string; settleMs?: number } = {}): UserDataSource {
  const byLabel = o.byLabelDir ?? "/dev/disk/by-label";
  const settleMs = o.settleMs ?? 10_000;
  return {
    name: "nocloud",
    async read(signal) {
      const device = await findDevice(byLabel, settleMs, signal);
      const mountPoint = await fs.mkdtemp(path.join(os.tmpdir(), "cidata-"));
      try {
        try {
          await run("mount", ["-o", "ro", device, mountPoint], { signal });
        } catch (err) {
          throw new SourceError(
            "failed",
            `mount ${device}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`,
          );
        }
        try {
          return await fs.readFile(path.join(mountPoint, "user-data")).catch((err: NodeJS.ErrnoException) => {
            throw new SourceError(
              "failed",
              `${device} (label cidata) has no user-data file: ${err.code ?? err.message}`,
            );
          });
        } finally {
          await run("umount", [mountPoint]).catch(() => undefined);
        }
      } finally {
        await fs.rmdir(mountPoint).catch(() => undefined);
      }
    },
  };
}

/** The cidata volume's device; udev may still be naming devices early in boot. */
async function findDevice(byLabel: string, settleMs: number, signal: AbortSignal): Promise<string> {
  const until = Date.now() + settleMs;
  for (;;) {
    for (const label of LABELS) {
      const link = path.join(byLabel, label);
      const target = await fs.realpath(link).catch(() => undefined);
      if (target !== undefined) return target;
    }
    if (Date.now() >= until)
      throw new SourceError("missing", `no volume labelled cidata (${byLabel}/CIDATA) appeared within ${settleMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
    signal.throwIfAborted();
  }
}
