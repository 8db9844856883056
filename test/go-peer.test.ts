// The Go ttrpc peer against itself (Go client → Go server): proves the harness that the
// TypeScript ttrpc interop tests and benchmarks rely on.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoRequestSchema, EchoResponseSchema } from "./support/gen/test/echo_pb.js";
import {
  type GoCallResult,
  type GoClient,
  type GoServer,
  runGoBenchClient,
  startGoClient,
  startGoServer,
} from "./support/go-peer.ts";

const ECHO = "ttrpc.test.Echo";
const CODE_NOT_FOUND = 5;
const CODE_DEADLINE_EXCEEDED = 4;
const CODE_UNIMPLEMENTED = 12;

type EchoInit = MessageInitShape<typeof EchoRequestSchema>;
const encodeEchoRequest = (init: EchoInit) => toBinary(EchoRequestSchema, create(EchoRequestSchema, init));
const decodeEchoResponse = (bytes: Uint8Array) => fromBinary(EchoResponseSchema, bytes);

describe("Go ttrpc peer", () => {
  let dir = "";
  let socketPath = "";
  let server: GoServer | undefined;
  let client: GoClient | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "go-peer-"));
    socketPath = join(dir, "echo.sock");
    server = await startGoServer(socketPath);
    client = await startGoClient(socketPath);
  });

  afterAll(async () => {
    try {
      await client?.close();
    } finally {
      try {
        await server?.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  function echo(
    req: EchoInit,
    extra: { timeoutMs?: number; localTimeoutMs?: number; metadata?: Record<string, string> } = {},
  ): Promise<GoCallResult> {
    if (!client) throw new Error("Go client did not start");
    return client.call({ service: ECHO, method: "Echo", payload: encodeEchoRequest(req), ...extra });
  }

  it("echoes arbitrary bytes, with no deadline and no metadata", async () => {
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    const result = await echo({ data });
    expect(result.code).toBe(0);
    const resp = decodeEchoResponse(result.payload);
    expect(resp.data).toEqual(data);
    expect(resp.deadlineRemainingMs).toBe(0n);
    expect(resp.metadata).toEqual({});
  });

  it("carries metadata and the deadline to the server", async () => {
    const result = await echo(
      { data: new Uint8Array([1]) },
      { timeoutMs: 5000, metadata: { "x-trace": "abc", Mixed: "Case" } },
    );
    expect(result.code).toBe(0);
    const resp = decodeEchoResponse(result.payload);
    expect(resp.metadata).toEqual({ "x-trace": "abc", Mixed: "Case" });
    expect(resp.deadlineRemainingMs).toBeGreaterThan(3000n);
    expect(resp.deadlineRemainingMs).toBeLessThanOrEqual(5000n);
  });

  it("returns fail_code and fail_message as the call's status", async () => {
    const result = await echo({ data: new Uint8Array([1, 2]), failCode: CODE_NOT_FOUND, failMessage: "no such thing" });
    expect(result).toEqual({ code: CODE_NOT_FOUND, message: "no such thing", payload: new Uint8Array(0) });
  });

  it("answers DeadlineExceeded from the server when the wire deadline passes", async () => {
    const started = performance.now();
    // The client waits 8 s itself, so a quick code 4 can only come from the server.
    const result = await echo({ sleepMs: 10_000n }, { timeoutMs: 100, localTimeoutMs: 8000 });
    expect(result.code).toBe(CODE_DEADLINE_EXCEEDED);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it("reports the client's own deadline as DeadlineExceeded", async () => {
    // No wire deadline: the server would sleep the full 10 s.
    const started = performance.now();
    const result = await echo({ sleepMs: 10_000n }, { timeoutMs: 0, localTimeoutMs: 150 });
    expect(result.code).toBe(CODE_DEADLINE_EXCEEDED);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it("runs 100 calls concurrently on one connection", async () => {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => echo({ data: new TextEncoder().encode(`call-${i}`), sleepMs: 200n })),
    );
    // One after another they would take 20 s.
    expect(performance.now() - started).toBeLessThan(5000);
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(new TextDecoder().decode(decodeEchoResponse(result.payload).data)).toBe(`call-${i}`);
    });
  });

  it("answers Unimplemented for an unknown method or service", async () => {
    if (!client) throw new Error("Go client did not start");
    const method = await client.call({ service: ECHO, method: "Nope", payload: new Uint8Array(0) });
    expect(method.code).toBe(CODE_UNIMPLEMENTED);
    expect(method.message).toContain("Nope");
    const service = await client.call({ service: "ttrpc.test.Missing", method: "Echo", payload: new Uint8Array(0) });
    expect(service.code).toBe(CODE_UNIMPLEMENTED);
  });

  it("benchmarks Echo calls and reports latency and throughput", async () => {
    const result = await runGoBenchClient({ socketPath, size: 1024, concurrency: 4, count: 400, warmup: 20 });
    expect(result.calls).toBe(400);
    expect(result.p50_us).toBeGreaterThan(0);
    expect(result.p99_us).toBeGreaterThanOrEqual(result.p50_us);
    expect(result.seconds).toBeGreaterThan(0);
    // Each call moves a ~1 KiB request and its ~1 KiB echo.
    const expectedMb = (400 * 2 * 1027) / 1e6;
    expect(result.mb_per_s * result.seconds).toBeCloseTo(expectedMb, 3);
  });
});

describe("Go ttrpc server lifecycle", () => {
  it("exits cleanly on SIGTERM and removes its socket", async () => {
    const dir = await mkdtemp(join(tmpdir(), "go-peer-"));
    try {
      const socketPath = join(dir, "stop.sock");
      const server = await startGoServer(socketPath);
      expect(existsSync(socketPath)).toBe(true);
      await server.stop();
      expect(existsSync(socketPath)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
