// The generated protobuf types against the requests a real Kata shim 3.5.0
// sent in one `ctr run`: every payload must decode without unknown fields
// (so our .proto definitions are complete) and re-encode to the same bytes
// (so a relay that decodes and re-encodes changes nothing). The generated
// code must also stay reproducible from proto/ with buf.

import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import {
  AgentService,
  CreateContainerRequestSchema,
  CreateSandboxRequestSchema,
  ExecProcessRequestSchema,
  GuestDetailsRequestSchema,
  ReadStreamRequestSchema,
  RemoveContainerRequestSchema,
  SignalProcessRequestSchema,
  WaitProcessRequestSchema,
} from "../src/gen/agent_pb.js";
import { Health } from "../src/gen/health_pb.js";
import {
  CreateVMRequestSchema,
  Hypervisor,
  StartVMRequestSchema,
  StopVMRequestSchema,
} from "../src/gen/hypervisor_pb.js";
import { ProcessSchema } from "../src/gen/oci_pb.js";
import { Echo } from "./support/gen/test/echo_pb.js";

const payloadDir = fileURLToPath(new URL("../../shared/reference/kata-shim-3.5.0-requests/", import.meta.url));
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

// The services whose requests the shim sends, searched by method name.
const shimServices: readonly DescService[] = [Hypervisor, AgentService, Health];

/** Payload files are named `NNN_<Method>.bin`. */
function methodOfFile(file: string): string {
  const match = /^\d+_([A-Za-z]+)\.bin$/.exec(file);
  if (match?.[1] === undefined) throw new Error(`unexpected payload file name ${file}`);
  return match[1];
}

/** The request schema of the one shim-facing method with this name. */
function requestSchemaFor(method: string): DescMessage {
  const found = shimServices.flatMap((service) => service.methods.filter((candidate) => candidate.name === method));
  if (found.length !== 1 || found[0] === undefined) {
    throw new Error(`method ${method} is defined ${found.length} times across the services`);
  }
  return found[0].input;
}

/** Paths of every message, at any depth, that carries unknown fields. */
function unknownFieldPaths(value: unknown, path = "$"): string[] {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return [];
  if (Array.isArray(value)) {
    return value.flatMap((item: unknown, index) => unknownFieldPaths(item, `${path}[${index}]`));
  }
  return Object.entries(value).flatMap(([key, item]: [string, unknown]) =>
    key === "$unknown" ? [path] : unknownFieldPaths(item, `${path}.${key}`),
  );
}

function payload(file: string): Promise<Uint8Array> {
  return readFile(join(payloadDir, file)).then((bytes) => new Uint8Array(bytes));
}

const payloadFiles = readdirSync(payloadDir)
  .filter((file) => file.endsWith(".bin"))
  .sort();

describe("service descriptors", () => {
  it("carry the wire names the shim and agent use", () => {
    expect(Hypervisor.typeName).toBe("hypervisor.Hypervisor");
    expect(AgentService.typeName).toBe("grpc.AgentService");
    expect(Health.typeName).toBe("grpc.Health");
    expect(Echo.typeName).toBe("ttrpc.test.Echo");
    expect(Hypervisor.methods.map((m) => m.name)).toEqual(["CreateVM", "StartVM", "StopVM", "Version"]);
    expect(Health.methods.map((m) => m.name)).toEqual(["Check", "Version"]);
    expect(Echo.methods.map((m) => m.name)).toEqual(["Echo"]);
  });

  it("know every agent RPC of current Kata, all unary", () => {
    const names = AgentService.methods.map((m) => m.name);
    expect(names).toHaveLength(42);
    expect(new Set(names).size).toBe(42);
    expect(names).toEqual(
      expect.arrayContaining([
        "CreateSandbox",
        "SetPolicy",
        "GetOOMEvent",
        "MemAgentMemcgSet",
        "MemAgentCompactSet",
        "AddSwapPath",
        "GetDiagnosticData",
      ]),
    );
    expect(AgentService.methods.every((m) => m.methodKind === "unary")).toBe(true);
  });
});

describe("shim 3.5.0 request payloads", () => {
  it("cover the whole recorded run", () => {
    expect(payloadFiles).toHaveLength(24);
  });

  it.each(payloadFiles)("%s decodes completely and re-encodes to identical bytes", async (file) => {
    const schema = requestSchemaFor(methodOfFile(file));
    const bytes = await payload(file);
    const message = fromBinary(schema, bytes);
    expect(unknownFieldPaths(message)).toEqual([]);
    expect(toBinary(schema, message)).toEqual(bytes);
  });

  it("the unknown-field check sees fields nested deep in a message", () => {
    const process = toBinary(ProcessSchema, create(ProcessSchema, { Args: ["/bin/true"] }));
    const stray = new BinaryWriter().tag(99, WireType.Varint).uint32(1).finish();
    const request = new BinaryWriter()
      .tag(4, WireType.LengthDelimited)
      .bytes(new Uint8Array([...process, ...stray]))
      .finish();
    const decoded = fromBinary(ExecProcessRequestSchema, request);
    expect(decoded.process?.Args).toEqual(["/bin/true"]);
    expect(unknownFieldPaths(decoded)).toEqual(["$.process"]);
  });

  it("CreateVM names the sandbox and carries the pod annotations", async () => {
    const request = fromBinary(CreateVMRequestSchema, await payload("001_CreateVM.bin"));
    expect(request.id).toBe("c3");
    // `ctr run` gives the container no network namespace.
    expect(request.networkNamespacePath).toBe("");
    expect(request.annotations).toEqual({
      "io.kubernetes.cri.sandbox-name": "",
      "io.kubernetes.cri.sandbox-namespace": "",
      "io.katacontainers.config.hypervisor.machine_type": "",
      "io.katacontainers.config.hypervisor.default_vcpus": "0",
      "io.katacontainers.config.hypervisor.default_memory": "0",
    });
  });

  it("StartVM and StopVM name the sandbox CreateVM created", async () => {
    const { id } = fromBinary(CreateVMRequestSchema, await payload("001_CreateVM.bin"));
    expect(fromBinary(StartVMRequestSchema, await payload("002_StartVM.bin")).id).toBe(id);
    expect(fromBinary(StopVMRequestSchema, await payload("024_StopVM.bin")).id).toBe(id);
  });

  it("CreateSandbox carries the sandbox id and the shm storage", async () => {
    const request = fromBinary(CreateSandboxRequestSchema, await payload("003_CreateSandbox.bin"));
    expect(request.sandboxId).toBe("c3");
    expect(request.storages).toHaveLength(1);
    expect(request.storages[0]).toMatchObject({
      driver: "ephemeral",
      source: "shm",
      fstype: "tmpfs",
      mountPoint: "/run/kata-containers/sandbox/shm",
    });
  });

  it("GetGuestDetails asks for the memory block size and hotplug probe", async () => {
    const request = fromBinary(GuestDetailsRequestSchema, await payload("004_GetGuestDetails.bin"));
    expect(request.memBlockSize).toBe(true);
    expect(request.memHotplugProbe).toBe(true);
  });

  it("CreateContainer carries the command in the OCI spec", async () => {
    const request = fromBinary(CreateContainerRequestSchema, await payload("005_CreateContainer.bin"));
    expect(request.containerId).toBe("c3");
    expect(request.execId).toBe("c3");
    const spec = request.OCI;
    expect(spec?.Version).toBe("1.0.2-dev");
    expect(spec?.Process?.Args).toEqual(["/bin/sleep", "1000"]);
    expect(spec?.Process?.Env).toEqual([]);
    expect(spec?.Process?.Cwd).toBe("/");
    expect(spec?.Process?.NoNewPrivileges).toBe(true);
    expect(spec?.Process?.Rlimits).toEqual([
      expect.objectContaining({ Type: "RLIMIT_NOFILE", Hard: 1024n, Soft: 1024n }),
    ]);
    expect(spec?.Root?.Path).toBe("/run/kata-containers/shared/containers/c3/rootfs");
    expect(spec?.Mounts.map((m) => m.destination)).toEqual([
      "/proc",
      "/dev",
      "/dev/pts",
      "/dev/shm",
      "/dev/mqueue",
      "/sys",
      "/run",
    ]);
    expect(spec?.Linux?.CgroupsPath).toBe("/demo/c3");
    expect(spec?.Linux?.Namespaces.map((ns) => ns.Type)).toEqual(["ipc", "uts", "mount"]);
    expect(spec?.Linux?.Resources?.CPU?.Shares).toBe(1024n);
  });

  it("ExecProcess carries the exec id and the process to run", async () => {
    const request = fromBinary(ExecProcessRequestSchema, await payload("013_ExecProcess.bin"));
    expect(request.containerId).toBe("c3");
    expect(request.execId).toBe("42516126-7943-4ae5-81b1-b4833a496bb0");
    expect(request.process?.Args).toEqual(["/bin/ls", "/"]);
    expect(request.process?.Cwd).toBe("/");
  });

  it("stream reads ask for 32768 bytes of the init process, then of the exec", async () => {
    const { execId } = fromBinary(ExecProcessRequestSchema, await payload("013_ExecProcess.bin"));
    const reads = payloadFiles.filter((file) => /_Read(Stdout|Stderr)\.bin$/.test(file));
    expect(reads).toHaveLength(6);
    const decoded = await Promise.all(
      reads.map(async (file) => fromBinary(ReadStreamRequestSchema, await payload(file))),
    );
    expect(decoded.every((r) => r.len === 32768 && r.containerId === "c3")).toBe(true);
    expect(decoded.map((r) => r.execId)).toEqual(["c3", "c3", "c3", execId, execId, execId]);
  });

  it("WaitProcess waits for the init process, the exec, then the init process again", async () => {
    const waits = await Promise.all(
      ["011_WaitProcess.bin", "017_WaitProcess.bin", "020_WaitProcess.bin"].map(async (file) =>
        fromBinary(WaitProcessRequestSchema, await payload(file)),
      ),
    );
    expect(waits.map((w) => w.execId)).toEqual(["c3", "42516126-7943-4ae5-81b1-b4833a496bb0", "c3"]);
  });

  it("SignalProcess sends SIGTERM then SIGKILL to every process of the container", async () => {
    const signals = await Promise.all(
      ["018_SignalProcess.bin", "019_SignalProcess.bin"].map(async (file) =>
        fromBinary(SignalProcessRequestSchema, await payload(file)),
      ),
    );
    expect(signals.map((s) => s.signal)).toEqual([15, 9]);
    expect(signals.every((s) => s.containerId === "c3" && s.execId === "")).toBe(true);
  });

  it("RemoveContainer names the container and sets no timeout", async () => {
    const request = fromBinary(RemoveContainerRequestSchema, await payload("021_RemoveContainer.bin"));
    expect(request.containerId).toBe("c3");
    expect(request.timeout).toBe(0);
  });

  it("the field-less requests are empty on the wire", async () => {
    const empty = [
      "007_GetOOMEvent.bin",
      "012_Check.bin",
      "022_RemoveStaleVirtiofsShareMounts.bin",
      "023_DestroySandbox.bin",
    ];
    const sizes = await Promise.all(empty.map(async (file) => (await payload(file)).length));
    expect(sizes).toEqual([0, 0, 0, 0]);
  });
});

/** Files under `dir`, as sorted paths relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe("generated code", () => {
  it("is what buf generates from proto/, byte for byte", async () => {
    const out = await mkdtemp(join(tmpdir(), "gen-check-"));
    try {
      // buf runs the local protoc-gen-es plugin, found on PATH next to node.
      const path = [join(repoRoot, "node_modules", ".bin"), dirname(process.execPath), process.env.PATH]
        .filter((part) => part !== undefined && part !== "")
        .join(delimiter);
      await promisify(execFile)(join(repoRoot, "node_modules", ".bin", "buf"), ["generate", "--output", out], {
        cwd: repoRoot,
        env: { ...process.env, PATH: path },
      });
      const committedDir = join(repoRoot, "src", "gen");
      const freshDir = join(out, "src", "gen");
      const committed = await listFiles(committedDir);
      expect(await listFiles(freshDir)).toEqual(committed);
      expect(committed.length).toBeGreaterThan(0);
      for (const file of committed) {
        const fresh = await readFile(join(freshDir, file), "utf8");
        expect(fresh, file).toBe(await readFile(join(committedDir, file), "utf8"));
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
