// Our ttrpc Server under hostile input: random bytes, mutated frames, truncated headers, huge
// length claims, slow writers, idle crowds and a client that never reads. The server runs in a
// child process so that a crash shows as a dead process and its memory can be measured; a
// well-behaved client calls it the whole time and must always get correct answers.

import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  Client,
  Code,
  decodeResponse,
  encodeRequestFrame,
  type Frame,
  FrameDecoder,
  HEADER_LENGTH,
  type KeyValue,
  MAX_DATA_LENGTH,
  MessageType,
} from "../src/ttrpc/index.ts";
import { type EchoServerProcess, type ServerStats, startEchoServerProcess } from "./support/echo-server-process.ts";
import { Echo } from "./support/echo-service.ts";
import { EchoRequestSchema, EchoResponseSchema } from "./support/gen/test/echo_pb.js";

const ECHO = "ttrpc.test.Echo";
/** Short, so slow writers and stalled frames are dropped within the test's time. */
const FRAME_TIMEOUT_MS = 250;
const MiB = 1 << 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** A raw connection that sends whatever it is told and collects the frames coming back. */
interface RawConnection {
  readonly socket: net.Socket;
  readonly frames: Frame[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function openRaw(socketPath: string, read = true): Promise<RawConnection> {
  const socket = net.connect(socketPath);
  socket.on("error", () => {}); // resets are expected; the close is what the tests watch
  await within(new Promise((resolve) => socket.once("connect", resolve)), 5000, "connect");
  const frames: Frame[] = [];
  if (read) {
    const decoder = new FrameDecoder(Number.MAX_SAFE_INTEGER);
    socket.on("data", (chunk: Buffer) => decoder.push(chunk, { frame: (f) => frames.push(f), oversized: () => {} }));
  }
  let isClosed = false;
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      isClosed = true;
      resolve();
    }),
  );
  return { socket, frames, closed, isClosed: () => isClosed };
}

/** Every frame the server sends must be a response whose envelope decodes, with a known code. */
function expectWellFormedAnswers(frames: readonly Frame[]): void {
  for (const f of frames) {
    expect(f.type).toBe(MessageType.Response);
    const resp = decodeResponse(f.data);
    if (resp.status !== undefined) {
      expect(resp.status.code).toBeGreaterThanOrEqual(0);
      expect(resp.status.code).toBeLessThanOrEqual(16);
    }
  }
}

/** Sends bytes, half-closes, and waits for the server to close the connection. */
async function sendAndClose(socketPath: string, bytes: Uint8Array): Promise<Frame[]> {
  const conn = await openRaw(socketPath);
  conn.socket.end(bytes);
  await within(conn.closed, 3000, "server closes the connection");
  return conn.frames;
}

/**
 * Calls Echo back to back with varied data for as long as it runs and checks each answer:
 * the well-behaved client that hostile peers must not disturb.
 */
class SteadyCaller {
  answered = 0;
  readonly failures: string[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(client: Client) {
    this.done = this.loop(client);
  }

  private async loop(client: Client): Promise<void> {
    for (let i = 0; this.running; i++) {
      const data = Buffer.alloc(1 + ((i * 997) % 4096), i & 0xff);
      data.write(`call ${i}`);
      try {
        const resp = await client.call(Echo.method.echo, { data }, { timeoutMs: 5000 });
        if (!Buffer.from(resp.data).equals(data))
          this.failures.push(`call ${i}: wrong data (${resp.data.length} bytes)`);
        else this.answered++;
      } catch (err) {
        this.failures.push(`call ${i}: ${(err as Error).message}`);
        if (client.closed) return;
      }
      await sleep(2);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

const echoPayload = (data: Uint8Array) => toBinary(EchoRequestSchema, create(EchoRequestSchema, { data }));

interface RequestSpec {
  service: string;
  method: string;
  data: Uint8Array;
  timeoutNano: number;
  metadata: KeyValue[];
  flags: number;
}

const requestSpec: fc.Arbitrary<RequestSpec> = fc.record({
  service: fc.oneof(
    { weight: 4, arbitrary: fc.constant(ECHO) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  ),
  method: fc.oneof(
    { weight: 4, arbitrary: fc.constant("Echo") },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  ),
  data: fc.uint8Array({ maxLength: 600 }),
  timeoutNano: fc.oneof(fc.constant(0), fc.integer({ min: 1e9, max: 60e9 }), fc.constant(-1)),
  metadata: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: fc.string({ maxLength: 8 }) }), {
    maxLength: 3,
  }),
  flags: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) }),
});

/** Valid request frames on ids 1, 3, 5 ..., concatenated, and where each frame starts. */
function encodeRequests(specs: readonly RequestSpec[]): { bytes: Buffer; offsets: number[] } {
  const frames = specs.map((s, i) =>
    encodeRequestFrame(
      2 * i + 1,
      {
        service: s.service,
        method: s.method,
        payload: echoPayload(s.data),
        timeoutNano: s.timeoutNano,
        metadata: s.metadata,
      },
      s.flags,
    ),
  );
  const offsets: number[] = [];
  let at = 0;
  for (const f of frames) {
    offsets.push(at);
    at += f.length;
  }
  return { bytes: Buffer.concat(frames), offsets };
}

/** What the server must answer to an unmutated request. */
function expectedAnswer(s: RequestSpec): { code: number } {
  if (s.flags !== 0) return { code: Code.UNIMPLEMENTED };
  if (s.service !== ECHO || s.method !== "Echo") return { code: Code.UNIMPLEMENTED };
  if (s.timeoutNano < 0) return { code: Code.DEADLINE_EXCEEDED };
  return { code: Code.OK };
}

type Mutation =
  | { kind: "flip"; bits: number[] }
  | { kind: "truncate"; at: number }
  | { kind: "length"; frame: number; value: number }
  | { kind: "insert"; at: number; junk: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), bits: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("length" as const),
    frame: fc.nat(),
    value: fc.oneof(
      fc.integer({ min: 0, max: 2048 }),
      fc.constantFrom(MAX_DATA_LENGTH, MAX_DATA_LENGTH + 1, 0xffff_ffff),
      fc.integer({ min: 0, max: 0xffff_ffff }),
    ),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    junk: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
);

function mutate(bytes: Buffer, offsets: readonly number[], m: Mutation): Buffer {
  const out = Buffer.from(bytes);
  switch (m.kind) {
    case "flip":
      for (const bit of m.bits) {
        const b = bit % (out.length * 8);
        out[b >> 3]! ^= 1 << (b & 7);
      }
      return out;
    case "truncate":
      return out.subarray(0, m.at % out.length);
    case "length":
      out.writeUInt32BE(m.value, offsets[m.frame % offsets.length]!);
      return out;
    case "insert": {
      const at = m.at % (out.length + 1);
      return Buffer.concat([out.subarray(0, at), m.junk, out.subarray(at)]);
    }
  }
}

describe("our Server under hostile input", () => {
  let dir = "";
  let socketPath = "";
  let server: EchoServerProcess | undefined;
  let client: Client | undefined;
  let steady: SteadyCaller | undefined;
  let baseline: ServerStats | undefined;
  let answeredBefore = 0;

  const running = (): EchoServerProcess => {
    if (server === undefined) throw new Error("server did not start");
    return server;
  };
  const stats = () => running().stats();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ttrpc-hostile-"));
    socketPath = join(dir, "s.sock");
    server = await startEchoServerProcess(socketPath, { frameTimeoutMs: FRAME_TIMEOUT_MS });
    client = await Client.connect(socketPath);
    // Warm the server up (code paths compiled, pools grown) before taking the baseline.
    for (let i = 0; i < 200; i++) await client.call(Echo.method.echo, { data: Buffer.alloc(4096, i) });
    baseline = await stats();
    steady = new SteadyCaller(client);
  });

  afterAll(async () => {
    try {
      await steady?.stop();
      client?.close();
      await server?.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  beforeEach(() => {
    answeredBefore = steady?.answered ?? 0;
  });

  afterEach(async () => {
    // The well-behaved client got correct answers all along, and the server still runs.
    await until("the steady client gets another answer", () => (steady?.answered ?? 0) > answeredBefore + 5);
    expect(steady?.failures).toEqual([]);
    expect(running().alive()).toBe(true);
  });

  it("survives random byte strings, answering only with well-formed responses", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2048 }), async (bytes) => {
        expectWellFormedAnswers(await sendAndClose(socketPath, bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("answers valid request sequences exactly", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestSpec, { minLength: 1, maxLength: 4 }), async (specs) => {
        const conn = await openRaw(socketPath);
        conn.socket.write(encodeRequests(specs).bytes);
        await until("all answers", () => conn.frames.length >= specs.length, 3000);
        conn.socket.destroy();
        expect(conn.frames.map((f) => f.streamId)).toEqual(expect.arrayContaining(specs.map((_, i) => 2 * i + 1)));
        for (const f of conn.frames) {
          const spec = specs[(f.streamId - 1) / 2]!;
          const want = expectedAnswer(spec);
          const resp = decodeResponse(f.data);
          expect(resp.status?.code ?? Code.OK).toBe(want.code);
          if (want.code !== Code.OK) continue;
          const echo = fromBinary(EchoResponseSchema, resp.payload);
          expect(new Uint8Array(echo.data)).toEqual(spec.data);
          expect(echo.metadata).toEqual(
            Object.fromEntries([...spec.metadata].reverse().map((kv) => [kv.key, kv.value])),
          );
          if (spec.timeoutNano > 0) {
            // Answered OK, so within its deadline: some of it left, never more than was sent
            // (in whole milliseconds, as the clock counts them).
            expect(Number(echo.deadlineRemainingMs)).toBeGreaterThanOrEqual(0);
            expect(Number(echo.deadlineRemainingMs)).toBeLessThanOrEqual(Math.ceil(spec.timeoutNano / 1e6));
          } else expect(echo.deadlineRemainingMs).toBe(0n);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("survives mutated frames: bit flips, truncation, length changes, inserted junk", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestSpec, { minLength: 1, maxLength: 4 }), mutation, async (specs, m) => {
        const { bytes, offsets } = encodeRequests(specs);
        expectWellFormedAnswers(await sendAndClose(socketPath, mutate(bytes, offsets, m)));
      }),
      { numRuns: 600 },
    );
  });

  it("drops connections that stop inside a header", async () => {
    const header = encodeRequestFrame(1, {
      service: ECHO,
      method: "Echo",
      payload: echoPayload(Buffer.from("hi")),
      timeoutNano: 0,
      metadata: [],
    });
    const before = (await stats()).protocolErrors;
    const conns = await Promise.all(Array.from({ length: HEADER_LENGTH - 1 }, () => openRaw(socketPath)));
    for (const [i, c] of conns.entries()) c.socket.write(header.subarray(0, i + 1));
    await within(Promise.all(conns.map((c) => c.closed)), 3000, "truncated headers dropped");
    for (const c of conns) expect(c.frames).toEqual([]);
    expect((await stats()).protocolErrors - before).toBe(HEADER_LENGTH - 1);
  });

  it("answers 4 GiB length claims RESOURCE_EXHAUSTED without buffering what follows", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_DATA_LENGTH + 1, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 256 * 1024 }),
        async (length, streamId, type, junk) => {
          const conn = await openRaw(socketPath);
          const header = Buffer.alloc(HEADER_LENGTH);
          header.writeUInt32BE(length, 0);
          header.writeUInt32BE(streamId, 4);
          header[8] = type;
          conn.socket.end(Buffer.concat([header, Buffer.alloc(junk, 0xee)]));
          await within(conn.closed, 3000, "server closes the connection");
          expect(conn.frames).toHaveLength(1);
          expect(conn.frames[0]!.streamId).toBe(streamId);
          expect(decodeResponse(conn.frames[0]!.data).status?.code).toBe(Code.RESOURCE_EXHAUSTED);
        },
      ),
      { numRuns: 60 },
    );

    // 4 GiB claims followed by as much data as the server takes before dropping each of them
    // (a discarded frame is still a frame that must finish within the frame timeout): all of
    // it must be thrown away as it comes, so the peak memory stays far below what was sent.
    const before = await stats();
    const total = 512 * MiB;
    const chunk = Buffer.alloc(MiB, 0xab);
    let sent = 0;
    let connections = 0;
    while (sent < total) {
      const conn = await openRaw(socketPath);
      connections++;
      const header = Buffer.alloc(HEADER_LENGTH);
      header.writeUInt32BE(0xffff_ffff, 0);
      header.writeUInt32BE(1, 4);
      header[8] = MessageType.Request;
      conn.socket.write(header);
      while (!conn.isClosed() && sent < total) {
        if (!conn.socket.write(chunk))
          await Promise.race([new Promise((resolve) => conn.socket.once("drain", resolve)), conn.closed]);
        sent += chunk.length;
      }
      conn.socket.destroy();
      await conn.closed;
    }
    await until("every oversized connection is gone", async () => (await stats()).connections === before.connections);
    const after = await stats();
    expect(after.protocolErrors - before.protocolErrors).toBeGreaterThanOrEqual(connections - 1);
    // Garbage chunks awaiting collection account for the peak; nothing is kept once collected.
    expect(after.maxRss - Math.max(before.maxRss, before.rss)).toBeLessThan(128 * MiB);
    expect(after.external - before.external).toBeLessThan(8 * MiB);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(8 * MiB);
  });

  it("drops slow-loris writers after the frame timeout", async () => {
    const frame = encodeRequestFrame(1, {
      service: ECHO,
      method: "Echo",
      payload: echoPayload(Buffer.alloc(200, 7)),
      timeoutNano: 0,
      metadata: [],
    });
    const before = (await stats()).protocolErrors;
    const lorises = await Promise.all(Array.from({ length: 10 }, () => openRaw(socketPath)));
    const sentBytes = lorises.map(() => 0);
    const drip = setInterval(() => {
      lorises.forEach((c, i) => {
        const at = sentBytes[i]!;
        if (c.isClosed() || at >= frame.length) return;
        c.socket.write(frame.subarray(at, at + 1));
        sentBytes[i] = at + 1;
      });
    }, 4);
    try {
      await within(Promise.all(lorises.map((c) => c.closed)), 3000, "slow writers dropped");
    } finally {
      clearInterval(drip);
    }
    // Dropped mid-frame, not at their first byte: never answered, never allowed to finish.
    for (const [i, c] of lorises.entries()) {
      expect(c.frames).toEqual([]);
      expect(sentBytes[i]).toBeGreaterThan(1);
      expect(sentBytes[i]).toBeLessThan(frame.length);
    }
    expect((await stats()).protocolErrors - before).toBe(lorises.length);
  });

  it("holds 500 idle connections while serving, and forgets them when they go", async () => {
    const before = await stats();
    const idle = await Promise.all(Array.from({ length: 500 }, () => openRaw(socketPath)));
    await until(
      "the server holds every idle connection",
      async () => (await stats()).connections >= before.connections + 500,
    );
    // Idle is not a crime: no frame has started, so none of them is dropped.
    await sleep(FRAME_TIMEOUT_MS * 2);
    expect(idle.filter((c) => c.isClosed())).toHaveLength(0);
    const crowded = await stats();
    expect(crowded.heapUsed - before.heapUsed).toBeLessThan(16 * MiB);
    for (const c of idle) c.socket.destroy();
    await until(
      "the server lets the idle connections go",
      async () => (await stats()).connections === before.connections,
    );
  });

  it("stops reading from a client that never reads its answers, and frees it when it goes", async () => {
    const before = await stats();
    const conn = await openRaw(socketPath, false);
    const data = Buffer.alloc(64 * 1024, 0x42);
    const limit = 2000; // 128 MiB of requests if the server kept reading
    let sent = 0;
    while (sent < limit) {
      const ok = conn.socket.write(
        encodeRequestFrame(2 * sent + 1, {
          service: ECHO,
          method: "Echo",
          payload: echoPayload(data),
          timeoutNano: 0,
          metadata: [],
        }),
      );
      sent++;
      if (ok) continue;
      const drained = await Promise.race([
        new Promise((resolve) => conn.socket.once("drain", () => resolve(true))),
        sleep(300).then(() => false),
      ]);
      if (!drained) break;
    }
    // The server pushed back: it stopped reading, so its unread answers and our unsent
    // requests stay in the socket buffers instead of its memory.
    expect(sent).toBeLessThan(limit);
    const stalled = await stats();
    expect(stalled.maxRss - Math.max(before.maxRss, before.rss)).toBeLessThan(48 * MiB);
    expect(stalled.external - before.external).toBeLessThan(16 * MiB);
    // If the stall left a request half-read, the frame timeout has dropped the connection by
    // now; otherwise it is held, paused, until the client goes.
    conn.socket.destroy();
    await until(
      "the server frees the stalled connection",
      async () => (await stats()).connections === before.connections,
    );
  });

  it("keeps its memory bounded through all of it", async () => {
    const start = baseline;
    if (start === undefined) throw new Error("no baseline");
    const end = await stats();
    expect(end.connections).toBe(1);
    expect(end.heapUsed - start.heapUsed).toBeLessThan(16 * MiB);
    expect(end.external - start.external).toBeLessThan(16 * MiB);
    expect(end.maxRss - start.rss).toBeLessThan(160 * MiB);
    expect(end.rss - start.rss).toBeLessThan(96 * MiB);
  });
});
