import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client } from "./client.ts";
import { Code } from "./codes.ts";
import { HEADER_LENGTH, MAX_DATA_LENGTH } from "./constants.ts";
import { decodeResponse, encodeRequestFrame } from "./envelope.ts";
import { type Frame, FrameDecoder } from "./frame.ts";
import { Server } from "./server.ts";
import { TtrpcError } from "./ttrpc-error.ts";
import { listenUnix } from "./unix-listener.ts";

let dir: string;
let sock: string;
let server: Server;
let started: number;

const SVC = "test.Raw";
/** A request frame to SVC as any client could write it, bypassing our client's checks. */
const rawRequest = (streamId: number, method: string, payload: Uint8Array, timeoutNano = 0, flags = 0) =>
  encodeRequestFrame(streamId, { service: SVC, method, payload, timeoutNano, metadata: [] }, flags);

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "ttrpc-"));
  sock = path.join(dir, "sub", "s.sock");
  server = new Server({ frameTimeoutMs: 300 });
  server.registerRaw(SVC, "Echo", (p) => p);
  started = 0;
  server.registerRaw(SVC, "Sleep", async (p, ctx) => {
    started++;
    const ms = Number(Buffer.from(p).toString());
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return Buffer.from(`slept ${ms}`);
  });
  server.registerRaw(SVC, "Fail", () => {
    throw new TtrpcError(Code.NOT_FOUND, "no such sandbox");
  });
  server.registerRaw(SVC, "Throw", () => {
    throw new Error("disk on fire");
  });
  server.registerRaw(SVC, "Context", (_p, ctx) =>
    Buffer.from(
      JSON.stringify({
        deadline: ctx.deadline === undefined ? null : ctx.deadline - Date.now(),
        md: Object.fromEntries(ctx.metadata),
      }),
    ),
  );
  server.serve(await listenUnix(sock));
});

afterEach(async () => {
  await server.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** A raw socket that sends hand-made bytes and collects the frames that come back. */
async function rawPeer() {
  const socket = net.connect(sock);
  await new Promise((r) => socket.once("connect", r));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(Number.MAX_SAFE_INTEGER);
  socket.on("data", (c: Buffer) => decoder.push(c, { frame: (f) => frames.push(f), oversized: () => {} }));
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  socket.on("error", () => {});
  return { socket, frames, closed };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("server and client", () => {
  it("creates the socket 0600 in created parent directories", async () => {
    const st = await fs.stat(sock);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("replaces a stale socket file and refuses to steal a live one", async () => {
    await expect(listenUnix(sock)).rejects.toThrow(/another live process/);
    const stale = path.join(dir, "stale.sock");
    const l = await listenUnix(stale);
    // Simulate a crashed owner: the file stays, nothing listens.
    l.removeAllListeners();
    await new Promise<void>((r) => {
      (l as unknown as { _handle: { close(cb: () => void): void } })._handle.close(() => r());
    });
    const again = await listenUnix(stale);
    again.close();
  });

  it("answers unary calls, errors with code and message, plain throws as UNKNOWN", async () => {
    const client = await Client.connect(sock);
    expect(Buffer.from(await client.callRaw(SVC, "Echo", Buffer.from("hi"))).toString()).toBe("hi");
    await expect(client.callRaw(SVC, "Fail", new Uint8Array())).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      statusMessage: "no such sandbox",
    });
    await expect(client.callRaw(SVC, "Throw", new Uint8Array())).rejects.toMatchObject({
      code: Code.UNKNOWN,
      statusMessage: "disk on fire",
    });
    client.close();
  });

  it("answers UNIMPLEMENTED naming an unknown service or method", async () => {
    const client = await Client.connect(sock);
    await expect(client.callRaw(SVC, "Nope", new Uint8Array())).rejects.toMatchObject({
      code: Code.UNIMPLEMENTED,
      statusMessage: expect.stringContaining("Nope"),
    });
    await expect(client.callRaw("other.Svc", "X", new Uint8Array())).rejects.toMatchObject({
      code: Code.UNIMPLEMENTED,
      statusMessage: expect.stringContaining("other.Svc"),
    });
    client.close();
  });

  it("never lets a slow call hold up another on the same connection", async () => {
    const client = await Client.connect(sock);
    const order: string[] = [];
    const slow = client.callRaw(SVC, "Sleep", Buffer.from("300")).then(() => order.push("slow"));
    const fast = Promise.all(
      Array.from({ length: 50 }, (_, i) => client.callRaw(SVC, "Echo", Buffer.from(String(i)))),
    ).then(() => order.push("fast"));
    await Promise.all([slow, fast]);
    expect(order).toEqual(["fast", "slow"]);
    client.close();
  });

  it("hands the deadline and metadata to the handler", async () => {
    const client = await Client.connect(sock);
    const out = JSON.parse(
      Buffer.from(
        await client.callRaw(SVC, "Context", new Uint8Array(), {
          timeoutMs: 600_000,
          metadata: { a: "1", b: ["x", "y"] },
        }),
      ).toString(),
    );
    // Ten minutes sent; more than half left whatever the load (the test's timeout is 60 s).
    expect(out.deadline).toBeGreaterThan(300_000);
    expect(out.deadline).toBeLessThanOrEqual(600_000);
    expect(out.md).toEqual({ a: ["1"], b: ["x", "y"] });
    const none = JSON.parse(Buffer.from(await client.callRaw(SVC, "Context", new Uint8Array())).toString());
    expect(none.deadline).toBeNull();
    client.close();
  });

  it("honours deadlines beyond Node's 2^31 ms timer limit instead of firing at once", async () => {
    const client = await Client.connect(sock);
    const thirtyDays = 30 * 86_400_000;
    expect(
      Buffer.from(await client.callRaw(SVC, "Sleep", Buffer.from("50"), { timeoutMs: thirtyDays })).toString(),
    ).toBe("slept 50");
    const peer = await rawPeer();
    peer.socket.write(rawRequest(1, "Sleep", Buffer.from("50"), thirtyDays * 1e6));
    await until(() => peer.frames.length === 1);
    expect(decodeResponse(peer.frames[0]!.data).status?.code ?? Code.OK).toBe(Code.OK);
    peer.socket.destroy();
    client.close();
  });

  it("fails a call DEADLINE_EXCEEDED at its deadline and aborts the handler", async () => {
    const client = await Client.connect(sock);
    await expect(client.callRaw(SVC, "Sleep", Buffer.from("5000"), { timeoutMs: 100 })).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
    });
    // The server's own answer: bypass the client's timer by asking raw.
    const peer = await rawPeer();
    peer.socket.write(rawRequest(1, "Sleep", Buffer.from("5000"), 50e6));
    await until(() => peer.frames.length === 1);
    expect(decodeResponse(peer.frames[0]!.data).status?.code).toBe(Code.DEADLINE_EXCEEDED);
    peer.socket.destroy();
    client.close();
  });

  it("cancels a call locally through an AbortSignal", async () => {
    const client = await Client.connect(sock);
    const ac = new AbortController();
    const p = client.callRaw(SVC, "Sleep", Buffer.from("2000"), { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: Code.CANCELLED });
    client.close();
  });

  it("fails every call under way UNAVAILABLE when the connection breaks", async () => {
    const client = await Client.connect(sock);
    const calls = Array.from({ length: 5 }, () => client.callRaw(SVC, "Sleep", Buffer.from("5000")));
    const settled = Promise.allSettled(calls);
    await until(() => client.pendingCalls === 5);
    await server.close();
    const outcomes = await settled;
    for (const o of outcomes) expect(o).toMatchObject({ status: "rejected", reason: { code: Code.UNAVAILABLE } });
    await expect(client.callRaw(SVC, "Echo", new Uint8Array())).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });

  it("accepts exactly 4 MiB of frame data and rejects one byte more, keeping the connection", async () => {
    const client = await Client.connect(sock, { checkSendSize: false });
    const overhead =
      rawRequest(1, "Echo", Buffer.alloc(MAX_DATA_LENGTH - 100)).length - HEADER_LENGTH - (MAX_DATA_LENGTH - 100);
    const fits = Buffer.alloc(MAX_DATA_LENGTH - overhead, 1);
    // Echo would answer with a reply just as large; a reply envelope is smaller than a request's.
    expect((await client.callRaw(SVC, "Echo", fits)).length).toBe(fits.length);
    await expect(client.callRaw(SVC, "Echo", Buffer.alloc(fits.length + 1))).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
    });
    expect(Buffer.from(await client.callRaw(SVC, "Echo", Buffer.from("still here"))).toString()).toBe("still here");
    client.close();
    const strict = await Client.connect(sock);
    await expect(strict.callRaw(SVC, "Echo", Buffer.alloc(fits.length + 1))).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      statusMessage: expect.stringContaining("exceeds"),
    });
    strict.close();
  });

  it("answers streaming requests UNIMPLEMENTED", async () => {
    const peer = await rawPeer();
    peer.socket.write(rawRequest(1, "Echo", new Uint8Array(), 0, 0x2));
    await until(() => peer.frames.length === 1);
    expect(decodeResponse(peer.frames[0]!.data).status).toMatchObject({
      code: Code.UNIMPLEMENTED,
      message: expect.stringContaining("streaming"),
    });
    peer.socket.destroy();
  });

  it.each([
    ["an even stream id", () => rawRequest(2, "Echo", new Uint8Array())],
    [
      "a reused stream id",
      () => Buffer.concat([rawRequest(3, "Echo", new Uint8Array()), rawRequest(3, "Echo", new Uint8Array())]),
    ],
    ["an unknown message type", () => Buffer.from("00000000000000010900", "hex")],
    [
      "a garbage envelope",
      () => Buffer.concat([Buffer.from("00000004000000010100", "hex"), Buffer.from("ffffffff", "hex")]),
    ],
  ])("closes only the connection that sends %s", async (_name, bytes) => {
    const good = await Client.connect(sock);
    const bad = await rawPeer();
    bad.socket.write(bytes());
    await bad.closed;
    expect(Buffer.from(await good.callRaw(SVC, "Echo", Buffer.from("ok"))).toString()).toBe("ok");
    good.close();
  });

  it("drops a connection that leaves a frame half-sent", async () => {
    const peer = await rawPeer();
    peer.socket.write(Buffer.from("000000100000000101", "hex"));
    await peer.closed;
  });

  it("drains calls under way on graceful shutdown and refuses new connections", async () => {
    const client = await Client.connect(sock);
    const slow = client.callRaw(SVC, "Sleep", Buffer.from("200"));
    await until(() => started === 1);
    const stopping = server.shutdown(5000);
    expect(Buffer.from(await slow).toString()).toBe("slept 200");
    await stopping;
    await expect(Client.connect(sock)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });
});
