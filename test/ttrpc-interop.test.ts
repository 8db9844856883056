// Our ttrpc against containerd's Go ttrpc (test/go-peer), both ways: the Go client calling our
// Server, and our Client calling the Go server. If the Go peer cannot be built these tests fail.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Client,
  Code,
  encodeRequestFrame,
  HEADER_LENGTH,
  listenUnix,
  MAX_DATA_LENGTH,
  Server,
  TtrpcError,
} from "../src/ttrpc/index.ts";
import { Echo, echoHandlers } from "./support/echo-service.ts";
import { EchoRequestSchema, EchoResponseSchema } from "./support/gen/test/echo_pb.js";
import { type GoCallResult, type GoClient, type GoServer, startGoClient, startGoServer } from "./support/go-peer.ts";

const ECHO = "ttrpc.test.Echo";
const FAULTY = "ttrpc.test.Faulty";

type EchoInit = MessageInitShape<typeof EchoRequestSchema>;
const encodeEcho = (init: EchoInit) => toBinary(EchoRequestSchema, create(EchoRequestSchema, init));
const decodeEcho = (bytes: Uint8Array) => fromBinary(EchoResponseSchema, bytes);
const text = (s: string) => new TextEncoder().encode(s);

/**
 * An EchoRequest whose ttrpc Request envelope (service, method and payload only, as both
 * clients send it without deadline or metadata) is exactly `frameData` bytes long.
 */
function echoRequestWithFrameData(frameData: number): Uint8Array {
  const envelopeSize = (payload: Uint8Array) =>
    encodeRequestFrame(1, { service: ECHO, method: "Echo", payload, timeoutNano: 0, metadata: [] }).length -
    HEADER_LENGTH;
  let dataLength = frameData - 64;
  for (let i = 0; i < 8; i++) {
    const payload = encodeEcho({ data: new Uint8Array(dataLength).fill(0x5a) });
    const size = envelopeSize(payload);
    if (size === frameData) return payload;
    dataLength += frameData - size;
  }
  throw new Error(`no EchoRequest makes a ${frameData}-byte envelope`);
}

describe("Go client → our Server", () => {
  let dir = "";
  let server: Server | undefined;
  let goClient: GoClient | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ttrpc-interop-"));
    const socketPath = join(dir, "ours.sock");
    server = new Server();
    server.register(Echo, echoHandlers);
    server.registerRaw(FAULTY, "Explode", () => {
      throw new Error("disk on fire");
    });
    server.serve(await listenUnix(socketPath));
    goClient = await startGoClient(socketPath);
  });

  afterAll(async () => {
    try {
      await goClient?.close();
    } finally {
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  function call(
    init: EchoInit,
    extra: { timeoutMs?: number; localTimeoutMs?: number; metadata?: Record<string, string> } = {},
  ): Promise<GoCallResult> {
    if (goClient === undefined) throw new Error("Go client did not start");
    return goClient.call({ service: ECHO, method: "Echo", payload: encodeEcho(init), ...extra });
  }

  it("answers a unary call", async () => {
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    const result = await call({ data });
    expect(result.code).toBe(0);
    const resp = decodeEcho(result.payload);
    expect(resp.data).toEqual(data);
    expect(resp.deadlineRemainingMs).toBe(0n);
    expect(resp.metadata).toEqual({});
  });

  it("answers 100 concurrent calls on one connection, each with its own data", async () => {
    // Each call sleeps 1 s: one after another they would outlast the test's timeout.
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => call({ data: text(`call-${i}`), sleepMs: 1000n })),
    );
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(new TextDecoder().decode(decodeEcho(result.payload).data)).toBe(`call-${i}`);
    });
  });

  it("hands the Go client's deadline to the handler", async () => {
    const resp = decodeEcho((await call({ data: text("x") }, { timeoutMs: 600_000 })).payload);
    // Ten minutes sent; more than half left whatever the load (the test's timeout is 60 s).
    expect(resp.deadlineRemainingMs).toBeGreaterThan(300_000n);
    expect(resp.deadlineRemainingMs).toBeLessThanOrEqual(600_000n);
  });

  it("ends a call that outlives its deadline DEADLINE_EXCEEDED on its own", async () => {
    // The Go client's own wait and the handler's sleep both outlast the test's timeout: the
    // answer can only be the server's, at the wire deadline.
    const result = await call({ sleepMs: 600_000n }, { timeoutMs: 200, localTimeoutMs: 600_000 });
    expect(result.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(result.message).toContain("deadline");
  });

  it("sends a handler's status code and message to the Go client", async () => {
    const result = await call({ data: text("x"), failCode: Code.NOT_FOUND, failMessage: "sandbox x not found" });
    expect(result).toEqual({ code: Code.NOT_FOUND, message: "sandbox x not found", payload: new Uint8Array(0) });
  });

  it("receives the Go client's metadata", async () => {
    const resp = decodeEcho((await call({}, { metadata: { "x-trace": "abc", Mixed: "Case" } })).payload);
    expect(resp.metadata).toEqual({ "x-trace": "abc", Mixed: "Case" });
  });

  it("accepts exactly 4 MiB of frame data, rejects one byte more RESOURCE_EXHAUSTED, and stays usable", async () => {
    if (goClient === undefined) throw new Error("Go client did not start");
    const fits = echoRequestWithFrameData(MAX_DATA_LENGTH);
    const ok = await goClient.call({ service: ECHO, method: "Echo", payload: fits });
    expect(ok.code).toBe(0);
    expect(decodeEcho(ok.payload).data.length).toBe(fromBinary(EchoRequestSchema, fits).data.length);
    const tooBig = echoRequestWithFrameData(MAX_DATA_LENGTH + 1);
    const rejected = await goClient.call({ service: ECHO, method: "Echo", payload: tooBig });
    expect(rejected.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(rejected.message).toContain(String(MAX_DATA_LENGTH + 1));
    const after = await call({ data: text("still here") });
    expect(new TextDecoder().decode(decodeEcho(after.payload).data)).toBe("still here");
  });

  it("answers UNIMPLEMENTED for an unknown method or service", async () => {
    if (goClient === undefined) throw new Error("Go client did not start");
    const method = await goClient.call({ service: ECHO, method: "Nope", payload: new Uint8Array(0) });
    expect(method.code).toBe(Code.UNIMPLEMENTED);
    expect(method.message).toContain("Nope");
    const service = await goClient.call({ service: "ttrpc.test.Missing", method: "Echo", payload: new Uint8Array(0) });
    expect(service.code).toBe(Code.UNIMPLEMENTED);
    expect(service.message).toContain("ttrpc.test.Missing");
  });

  it("turns a plain Error thrown by a handler into UNKNOWN with its message", async () => {
    if (goClient === undefined) throw new Error("Go client did not start");
    const result = await goClient.call({ service: FAULTY, method: "Explode", payload: new Uint8Array(0) });
    expect(result).toEqual({ code: Code.UNKNOWN, message: "disk on fire", payload: new Uint8Array(0) });
  });
});

describe("our Client → Go server", () => {
  let dir = "";
  let goServer: GoServer | undefined;
  let client: Client | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ttrpc-interop-"));
    const socketPath = join(dir, "go.sock");
    goServer = await startGoServer(socketPath);
    // The Go server, not our client, must be the one refusing an oversized request.
    client = await Client.connect(socketPath, { checkSendSize: false });
  });

  afterAll(async () => {
    try {
      client?.close();
      await goServer?.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  function connected(): Client {
    if (client === undefined) throw new Error("client did not connect");
    return client;
  }

  it("makes a unary call", async () => {
    const data = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const resp = await connected().call(Echo.method.echo, { data });
    // Decoded bytes are a Buffer view on the received frame: compare the bytes only.
    expect(new Uint8Array(resp.data)).toEqual(data);
    expect(resp.deadlineRemainingMs).toBe(0n);
    expect(resp.metadata).toEqual({});
  });

  it("runs 100 concurrent calls on one connection, each answered with its own data", async () => {
    // Each call sleeps 1 s: one after another they would outlast the test's timeout.
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        connected().call(Echo.method.echo, { data: text(`call-${i}`), sleepMs: 1000n }),
      ),
    );
    for (const [i, resp] of replies.entries()) expect(new TextDecoder().decode(resp.data)).toBe(`call-${i}`);
  });

  it("sends its deadline to the Go server", async () => {
    const resp = await connected().call(Echo.method.echo, {}, { timeoutMs: 600_000 });
    // Ten minutes sent; more than half left whatever the load (the test's timeout is 60 s).
    expect(resp.deadlineRemainingMs).toBeGreaterThan(300_000n);
    expect(resp.deadlineRemainingMs).toBeLessThanOrEqual(600_000n);
  });

  it("fails a call that outlives its deadline DEADLINE_EXCEEDED and keeps the connection", async () => {
    // The Go handler sleeps past the test's timeout: only the deadline ends the call.
    await expect(connected().call(Echo.method.echo, { sleepMs: 600_000n }, { timeoutMs: 200 })).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
    });
    // The Go server's own late DEADLINE_EXCEEDED answer must not disturb the next call.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(new TextDecoder().decode((await connected().call(Echo.method.echo, { data: text("next") })).data)).toBe(
      "next",
    );
  });

  it("receives the Go server's status code and message", async () => {
    const failed = connected().call(Echo.method.echo, { failCode: Code.NOT_FOUND, failMessage: "sandbox x not found" });
    await expect(failed).rejects.toBeInstanceOf(TtrpcError);
    await expect(failed).rejects.toMatchObject({ code: Code.NOT_FOUND, statusMessage: "sandbox x not found" });
  });

  it("sends metadata the Go server reads", async () => {
    const resp = await connected().call(
      Echo.method.echo,
      {},
      { metadata: { "x-trace": "abc", Mixed: "Case", multi: ["first", "second"] } },
    );
    expect(resp.metadata).toEqual({ "x-trace": "abc", Mixed: "Case", multi: "first" });
  });

  it("is accepted at exactly 4 MiB of frame data, refused RESOURCE_EXHAUSTED one byte over, and stays usable", async () => {
    const fits = echoRequestWithFrameData(MAX_DATA_LENGTH);
    const reply = decodeEcho(await connected().callRaw(ECHO, "Echo", fits));
    expect(reply.data.length).toBe(fromBinary(EchoRequestSchema, fits).data.length);
    const tooBig = echoRequestWithFrameData(MAX_DATA_LENGTH + 1);
    await expect(connected().callRaw(ECHO, "Echo", tooBig)).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      statusMessage: expect.stringContaining("exceed"),
    });
    expect(
      new TextDecoder().decode((await connected().call(Echo.method.echo, { data: text("still here") })).data),
    ).toBe("still here");
    expect(connected().closed).toBe(false);
  });

  it("gets UNIMPLEMENTED for an unknown method", async () => {
    await expect(connected().callRaw(ECHO, "Nope", new Uint8Array(0))).rejects.toMatchObject({
      code: Code.UNIMPLEMENTED,
      statusMessage: expect.stringContaining("Nope"),
    });
    await expect(connected().callRaw("ttrpc.test.Missing", "Echo", new Uint8Array(0))).rejects.toMatchObject({
      code: Code.UNIMPLEMENTED,
    });
  });
});
