// Out-of-tree providers (CLOUD_PROVIDER_EXTERNAL_MODULE): the example module loads, runs a pod
// through the daemon, and a module whose SHA-256 is not the pinned one is refused.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExternalProvider } from "../providers/index.ts";
import { runPod } from "../src/hypervisor/shim-driver.ts";
import { cleanupDaemonDirs, type DaemonDirs, makeDaemonDirs, startDaemon } from "./support/daemon-process.ts";

// The example lives outside the source tree, as an operator's module would.
const EXAMPLE = path.join(
  fileURLToPath(new URL("..", import.meta.url)),
  "examples",
  "external-provider",
  "tiny-provider.js",
);
const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await fs.readFile(file))
    .digest("hex");
const uid = process.getuid?.() ?? 0;

let dirs: DaemonDirs;
let scratch: string;
beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-ext-");
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), "caa-ext-mod-"));
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
});

describe("external provider modules", () => {
  it("the example module loads with its pinned SHA-256 and runs a pod", async () => {
    const daemon = await startDaemon(dirs, {
      CLOUD_PROVIDER: "tiny",
      CLOUD_PROVIDER_EXTERNAL_MODULE: EXAMPLE,
      CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256: await sha256(EXAMPLE),
    });
    try {
      let out = "";
      const status = await runPod({
        socketPath: dirs.socketPath,
        command: ["echo", "out of tree"],
        stdout: (c) => (out += Buffer.from(c).toString()),
        stderr: () => {},
      });
      expect({ status, out }).toEqual({ status: 0, out: "out of tree\n" });
      expect(daemon.logs()).toContain('"msg":"tiny: creating VM"');
      expect(daemon.logs()).toContain('"provider":"tiny"');
    } finally {
      await daemon.stop();
    }
  });

  it("refuses a module whose SHA-256 is not the pinned one, and the daemon does not start", async () => {
    const wrong = "0".repeat(64);
    const failure = await startDaemon(dirs, {
      CLOUD_PROVIDER: "tiny",
      CLOUD_PROVIDER_EXTERNAL_MODULE: EXAMPLE,
      CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256: wrong,
    }).catch((e: unknown) => e as Error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain(
      `CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256=${wrong}: ${EXAMPLE} has SHA-256 ${await sha256(EXAMPLE)}; refusing to load a module that is not the one pinned`,
    );
    expect((failure as Error).message).not.toContain("tiny: creating VM");
  });

  it("refuses a module others may write, one without a factory, and one whose provider is not CLOUD_PROVIDER", async () => {
    const write = async (name: string, text: string, mode = 0o644) => {
      const file = path.join(scratch, name);
      await fs.writeFile(file, text, { mode });
      await fs.chmod(file, mode);
      return { modulePath: file, sha256: await sha256(file), uid };
    };
    const good = 'export default { name: "mine", description: "d", create() { throw new Error("unused"); } };\n';
    const writable = await write("writable.js", good, 0o666);
    await expect(loadExternalProvider({ ...writable, providerName: "mine" })).rejects.toThrow(
      /writable by group or others \(mode 666\)/,
    );
    const empty = await write("empty.js", "export const nothing = 1;\n");
    await expect(loadExternalProvider({ ...empty, providerName: "mine" })).rejects.toThrow(
      /expected an export providerFactory \(or a default export\)/,
    );
    const other = await write("other.js", good);
    await expect(loadExternalProvider({ ...other, providerName: "aws" })).rejects.toThrow(
      /the module's provider is "mine" but CLOUD_PROVIDER is "aws"/,
    );
    expect((await loadExternalProvider({ ...other, providerName: "mine" })).name).toBe("mine");
  });
});
