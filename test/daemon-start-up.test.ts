// What the daemon does with the state it finds at start-up: the folders it was pointed at, the
// settings it logs, records it cannot trust and sandboxes it cannot serve. A real daemon on the
// local provider, restarted on the same state.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/cli/shim-driver.ts";
import { cleanupDaemonDirs, makeDaemonDirs, startDaemon, type DaemonDirs, type RunningDaemon } from "./support/daemon-process.ts";

const h = Hypervisor.method;
let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;

afterEach(async () => {
  if (daemon?.child.exitCode === null) await daemon.stop();
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
  dirs = undefined;
  daemon = undefined;
});

const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe("daemon start-up", () => {
  it("makes its own folders 0700 but leaves the mode of a folder the operator chose, and never logs INITDATA", async () => {
    dirs = await makeDaemonDirs();
    // The operator points CAA_STATE_DIR at a folder that exists, with a mode of their choosing.
    const chosen = path.join(dirs.root, "operator-chosen");
    await fs.mkdir(chosen);
    await fs.chmod(chosen, 0o751);
    dirs = { ...dirs, stateDir: chosen };
    const secret = `kbs-token-${randomUUID()}`;
    daemon = await startDaemon(dirs, { INITDATA: `[data]\ntoken = "${secret}"\n` });
    const id = "initdata";
    await onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations: { "io.katacontainers.config.hypervisor.cc_init_data": `own = "${secret}"` }, networkNamespacePath: "" }));
    await onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 60_000 }));
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
    expect(await mode(chosen)).toBe(0o751);
    expect(await mode(path.join(chosen, "sandboxes"))).toBe(0o700);
    expect(await mode(path.join(chosen, "ca"))).toBe(0o700);
    await daemon.stop();
    expect(daemon.logs()).toContain('"INITDATA":"<redacted>"');
    expect(daemon.logs()).not.toContain(secret);
  });
});
