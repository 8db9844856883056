// The daemon as operators run it: a real process on the local provider, driven over its
// sockets. Pods really run (forwarder and agent in local VMs, mutual TLS on the way).
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { Health } from "../src/gen/health_pb.js";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor, runPod } from "../src/hypervisor/shim-driver.ts";
import { Client, Code } from "../src/ttrpc/index.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  type DaemonDirs,
  debugSandboxes,
  freePort,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
let dirs: DaemonDirs;
let daemon: RunningDaemon;

beforeAll(async () => {
  dirs = await makeDaemonDirs();
  daemon = await startDaemon(dirs, { PEERPODS_LIMIT_PER_NODE: "60" });
});

useDaemonHooks({ dirs: () => dirs, daemon: () => daemon, daemonPer: "file", dirsPer: "file" });

function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const pod = (command: string[], extra: Partial<Parameters<typeof runPod>[0]> = {}) => {
  let out = "";
  let err = "";
  return runPod({
    socketPath: dirs.socketPath,
    command,
    stdout: (c) => (out += Buffer.from(c).toString()),
    stderr: (c) => (err += Buffer.from(c).toString()),
    ...extra,
  }).then((status) => ({ status, out, err }));
};

async function nothingLeft(): Promise<void> {
  expect(await debugSandboxes(daemon.probePort)).toEqual([]);
  expect(await fs.readdir(dirs.vmsDir).catch(() => [])).toEqual([]);
  expect(await fs.readdir(path.join(dirs.stateDir, "sandboxes"))).toEqual([]);
}

describe("cloud-api-adaptor on the local provider", () => {
  it("runs `peerpod-ctl run -- echo hello` end to end and exits with the process's status", async () => {
    const ok = await runCli(["bin/peerpod-ctl.js", "run", "--socket", dirs.socketPath, "--", "echo", "hello"]);
    expect(ok).toMatchObject({ code: 0, stdout: "hello\n" });
    const failing = await runCli([
      "bin/peerpod-ctl.js",
      "run",
      "--socket",
      dirs.socketPath,
      "--",
      "sh",
      "-c",
      "echo oops >&2; exit 3",
    ]);
    expect(failing).toMatchObject({ code: 3, stdout: "", stderr: "oops\n" });
    await nothingLeft();
  });

  it("keeps its socket, state files and CA key readable by root only", async () => {
    expect((await fs.stat(dirs.socketPath)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(dirs.stateDir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(dirs.stateDir, "ca", "ca.key"))).mode & 0o777).toBe(0o600);
    const id = "modes";
    await onHypervisor(dirs.socketPath, (c) =>
      c.call(Hypervisor.method.createVM, { id, annotations: {}, networkNamespacePath: "" }),
    );
    expect((await fs.stat(path.join(dirs.stateDir, "sandboxes", `${id}.json`))).mode & 0o777).toBe(0o600);
    await onHypervisor(dirs.socketPath, (c) => c.call(Hypervisor.method.stopVM, { id }));
  });

  it("runs 50 pods at once and leaves no process, socket, record or VM behind", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pod(["sh", "-c", `echo pod-${i}`])));
    for (const [i, r] of results.entries()) expect(r).toEqual({ status: 0, out: `pod-${i}\n`, err: "" });
    await nothingLeft();
    await new Promise((r) => setTimeout(r, 400)); // sockets linger SOCKET_LINGER
    expect(await fs.readdir(dirs.podsDir)).toEqual([]);
  });

  it("fails a StartVM whose deadline is shorter than the provider's work, rolling everything back", async () => {
    const id = "deadline";
    await onHypervisor(dirs.socketPath, (c) =>
      c.call(Hypervisor.method.createVM, { id, annotations: {}, networkNamespacePath: "" }),
    );
    const err = await onHypervisor(dirs.socketPath, (c) =>
      c.call(Hypervisor.method.startVM, { id }, { timeoutMs: 20 }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    // The server-side rollback may finish just after the client's own deadline fired.
    const state = async () => (await debugSandboxes(daemon.probePort)).find((s) => s.id === id)?.state;
    for (let i = 0; i < 200 && (await state()) !== "failed"; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await state()).toBe("failed");
    expect(await fs.readdir(dirs.vmsDir).catch(() => [])).toEqual([]);
    await onHypervisor(dirs.socketPath, (c) => c.call(Hypervisor.method.stopVM, { id }));
    await nothingLeft();
  });

  it("answers bad requests with clear statuses", async () => {
    const h = Hypervisor.method;
    await expect(
      onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id: "never-created" })),
    ).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(
      onHypervisor(dirs.socketPath, (c) =>
        c.call(h.createVM, {
          id: "bad",
          annotations: { "io.katacontainers.config.hypervisor.default_memory": "lots" },
          networkNamespacePath: "",
        }),
      ),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, statusMessage: expect.stringContaining("default_memory") });
    await expect(
      onHypervisor(dirs.socketPath, (c) =>
        c.call(h.createVM, { id: "../x", annotations: {}, networkNamespacePath: "" }),
      ),
    ).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id: "unknown-is-fine" }));
  });

  it("survives hostile input on both sockets while a pod keeps working", async () => {
    const id = "steady";
    const h = Hypervisor.method;
    const { agentSocketPath } = await onHypervisor(dirs.socketPath, (c) =>
      c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }),
    );
    await onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 60_000 }));
    const agent = await Client.connect(agentSocketPath);
    const hostile = async (socketPath: string) => {
      const idle: net.Socket[] = [];
      for (let i = 0; i < 100; i++) idle.push(net.connect(socketPath).on("error", () => {}));
      const send = (bytes: Buffer) =>
        new Promise<void>((resolve) => {
          const s = net.connect(socketPath, () => s.end(bytes));
          s.on("error", () => resolve()).on("close", () => resolve());
          s.resume();
          setTimeout(() => {
            s.destroy();
            resolve();
          }, 500);
        });
      await send(Buffer.from("this is not ttrpc at all, just some garbage bytes"));
      await send(Buffer.concat([Buffer.from("ffffffff000000010100", "hex"), Buffer.alloc(70_000, 1)])); // 4 GiB claim
      await send(Buffer.from("0000001000000001", "hex")); // half a header
      await send(Buffer.from("00000005000000020100aaaaaaaaaa", "hex")); // even stream id
      return idle;
    };
    const idle = [...(await hostile(dirs.socketPath)), ...(await hostile(agentSocketPath))];
    expect(await agent.call(Health.method.check, {}, { timeoutMs: 10_000 })).toMatchObject({ status: 1 });
    expect((await pod(["echo", "fine"])).out).toBe("fine\n");
    for (const s of idle) s.destroy();
    agent.close();
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
    expect(daemon.child.exitCode).toBeNull();
  });

  it("serves probes and metrics; /debug/sandboxes shows live sandboxes", async () => {
    expect((await pod(["true"])).status).toBe(0); // so every metric has seen a pod
    const base = `http://127.0.0.1:${daemon.probePort}`;
    for (const p of ["/healthz", "/readyz", "/startup"]) expect((await fetch(base + p)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/caa_hypervisor_calls_total\{method="StartVM",code="0"\} \d+/);
    expect(metrics).toMatch(/caa_provider_call_duration_seconds_count\{provider="local",operation="create"\} \d+/);
    expect(metrics).toMatch(/caa_agent_relay_bytes_total\{direction="[a-z_]+"\} \d+/);
    expect(metrics).toContain('caa_sandboxes{state="running"}');
    for (const phase of ["provider_create", "vm_boot", "tunnel", "daemon"])
      expect(metrics).toMatch(new RegExp(`caa_startvm_phase_seconds_count\\{phase="${phase}"\\} [1-9]`));
    const id = "listed";
    await onHypervisor(dirs.socketPath, (c) =>
      c.call(Hypervisor.method.createVM, {
        id,
        annotations: { "io.kubernetes.cri.sandbox-name": "web-1" },
        networkNamespacePath: "",
      }),
    );
    expect(await debugSandboxes(daemon.probePort)).toEqual([
      expect.objectContaining({ id, state: "created", podName: "web-1" }),
    ]);
    const ls = await runCli(["bin/peerpod-ctl.js", "ls", "--probe-port", String(daemon.probePort)]);
    expect(ls.stdout).toMatch(/^SANDBOX\s+STATE/);
    expect(ls.stdout).toContain("listed");
    await onHypervisor(dirs.socketPath, (c) => c.call(Hypervisor.method.stopVM, { id }));
  });

  it("logs JSON lines with the sandbox id on every sandbox line, and never key material", async () => {
    const { status } = await pod(["true"]);
    expect(status).toBe(0);
    const lines = daemon
      .logs()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const running = lines.filter((l) => l.msg === "sandbox running");
    expect(running.length).toBeGreaterThan(0);
    for (const l of running) expect(l.sandbox).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
    expect(daemon.logs()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  it("lets only holders of a certificate from the daemon's CA talk to a VM's forwarder", async () => {
    const id = "mtls";
    const h = Hypervisor.method;
    await onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }));
    await onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 60_000 }));
    const vm = (await debugSandboxes(daemon.probePort)).find((s) => s.id === id)!;
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: vm.address, port: 15150, rejectUnauthorized: false }, () => {
        s.write(Buffer.from("00000000000000010100", "hex"));
      });
      s.on("data", () => resolve("answered"));
      s.on("error", (e) => resolve(`refused: ${e.message}`));
      s.on("close", () => resolve("refused: closed"));
    });
    expect(outcome).toMatch(/^refused/);
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
  });
});

describe("start-up configuration errors", () => {
  it.each([
    [{ PROXY_TIMEOUT: "abc" }, /PROXY_TIMEOUT="abc": expected a Go duration/],
    [{ FORWARDER_PORT: "99999" }, /FORWARDER_PORT="99999"/],
    [{ PEERPODS_LIMIT_PER_NODE: "ten" }, /PEERPODS_LIMIT_PER_NODE="ten"/],
    [{ CLOUD_PROVIDER: "nimbus" }, /unknown cloud provider "nimbus": known providers are local/],
    [{ LOCAL_SUBNET: "10.1" }, /LOCAL_SUBNET="10.1"/],
  ])("exits non-zero naming the variable for %o", async (env, message) => {
    const r = await runCli(["bin/cloud-api-adaptor.js"], {
      CAA_STATE_DIR: path.join(dirs.root, "cfg-state"),
      REMOTE_HYPERVISOR_ENDPOINT: path.join(dirs.root, "cfg.sock"),
      PROBE_PORT: String(await freePort()),
      ...env,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});
