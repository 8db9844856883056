// The README's first command, as an operator runs it: `bash scripts/demo.sh` prints `hello` from
// a peer pod on the local provider and leaves nothing behind (its folder, the daemon, the relay
// and the local VM are gone). Its install step finds everything here already installed (CI ran
// scripts/bootstrap.sh), so it changes nothing on the machine.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { freePort } from "./support/test-scope.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runDemo(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a hung demo can be stopped whole (SIGTERM runs its clean-up trap).
    const child = spawn("bash", [path.join(ROOT, "scripts/demo.sh")], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, "SIGTERM"), 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Processes whose environment names `dir`: what the demo started and failed to stop. */
async function processesUsing(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const environ = await fs.readFile(`/proc/${pid}/environ`, "latin1").catch(() => "");
    if (environ.includes(dir)) found.push(pid);
  }
  return found;
}

describe("scripts/demo.sh", () => {
  it("runs `echo hello` in a peer pod on the local provider, prints hello, and leaves nothing behind", async () => {
    // A bridge and subnet of this run's own, so it never meets another run's local VMs.
    const n = process.pid % 1000;
    const run = await runDemo({
      PROBE_PORT: String(await freePort()),
      LOCAL_BRIDGE: `caa-demo${n}`,
      LOCAL_SUBNET: `10.214.${n % 250}`,
    });
    expect(run.stderr).toContain("StopVM done");
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: "hello\n" });
    const work = /agent socket (\/tmp\/caa-demo\.[^/]+)\//.exec(run.stderr)?.[1];
    expect(work, run.stderr).toBeDefined();
    await expect(fs.stat(work as string)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await processesUsing(work as string)).toEqual([]);
  }, 300_000);
});
