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
      { timeoutMs: 600_000, metadata: { "x-trace": "abc", Mixed: "Case" } },
    );
    expect(result.code).toBe(0);
    const resp = decodeEchoResponse(result.payload);
    expect(resp.metadata).toEqual({ "x-trace": "abc", Mixed: "Case" });
    // Ten minutes sent; more than half left whatever the load (the test's timeout is 60 s).
    expect(resp.deadlineRemainingMs).toBeGreaterThan(300_000n);
    expect(resp.deadlineRemainingMs).toBeLessThanOrEqual(600_000n);
  });

  it("returns fail_code and fail_message as the call's status", async () => {
    const result = await echo({ data: new Uint8Array([1, 2]), failCode: CODE_NOT_FOUND, failMessage: "no such thing" });
    expect(result).toEqual({ code: CODE_NOT_FOUND, message: "no such thing", payload: new Uint8Array(0) });
  });

  it("answers DeadlineExceeded from the server when the wire deadline passes", async () => {
    // The client's own wait and the handler's sleep outlast the test's timeout, so code 4 can
    // only come from the server at the wire deadline.
    const result = await echo({ sleepMs: 600_000n }, { timeoutMs: 100, localTimeoutMs: 600_000 });
    expect(result.code).toBe(CODE_DEADLINE_EXCEEDED);
  });

  it("reports the client's own deadline as DeadlineExceeded", async () => {
    // No wire deadline: the server would sleep past the test's timeout.
    const result = await echo({ sleepMs: 600_000n }, { timeoutMs: 0, localTimeoutMs: 150 });
    expect(result.code).toBe(CODE_DEADLINE_EXCEEDED);
  });

  it("runs 100 calls concurrently on one connection", async () => {
    // Each call sleeps 1 s: one after another they would outlast the test's timeout.
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => echo({ data: new TextEncoder().encode(`call-${i}`), sleepMs: 1000n })),
    );
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
