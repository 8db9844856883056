import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { held, rejection, stateAfter, until } from "../../test/support/agent-harness.ts";
import { Code, TtrpcError } from "../ttrpc/index.ts";
import { END_OF_STREAM_CODE, OutputStream } from "./output-stream.ts";

const text = (b: Uint8Array) => Buffer.from(b).toString();

function attached(limit?: number): { stream: OutputStream; source: PassThrough } {
  const stream = new OutputStream("stdout of c/e", limit);
  const source = new PassThrough();
  stream.attach(source);
  return { stream, source };
}

describe("OutputStream", () => {
  it("a read waits for data, then returns at most the asked length", async () => {
    const { stream, source } = attached();
    const read = stream.read(4);
    expect(await stateAfter(read, 30)).toBe("pending");
    source.write("abcdef");
    expect(text(await read)).toBe("abcd");
    expect(text(await stream.read(100))).toBe("ef");
    expect(stream.buffered).toBe(0);
  });

  it("joins chunks into one reply", async () => {
    const { stream, source } = attached();
    source.write("ab");
    source.write("cd");
    await until(() => stream.buffered === 4, 1000, "both chunks buffered");
    expect(text(await stream.read(3))).toBe("abc");
    expect(text(await stream.read(3))).toBe("d");
  });

  it("serves waiting readers in the order they came", async () => {
    const { stream, source } = attached();
    const first = stream.read(2);
    const second = stream.read(2);
    source.write("xxyy");
    expect([text(await first), text(await second)]).toEqual(["xx", "yy"]);
  });

  it("after the end, returns what is left and then fails every read with END_OF_STREAM_CODE", async () => {
    const { stream, source } = attached();
    const parked = held(stream.read(10));
    source.end("tail");
    expect(text(await parked)).toBe("tail");
    await until(() => stream.isEnded, 1000, "end seen");
    expect(stream.isDrained).toBe(true);
    await stream.whenDrained;
    for (let i = 0; i < 3; i++) {
      const err = await rejection(stream.read(10));
      expect(err.code).toBe(END_OF_STREAM_CODE);
      expect(err.statusMessage).toContain("stdout of c/e");
    }
  });

  it("fails readers parked at the end with END_OF_STREAM_CODE", async () => {
    const { stream, source } = attached();
    const a = held(stream.read(10));
    const b = held(stream.read(10));
    source.end();
    expect((await rejection(a)).code).toBe(END_OF_STREAM_CODE);
    expect((await rejection(b)).code).toBe(END_OF_STREAM_CODE);
  });

  it("wakes a parked read when its signal aborts; the aborted read takes no data", async () => {
    const { stream, source } = attached();
    const controller = new AbortController();
    const aborted = held(stream.read(10, controller.signal));
    controller.abort(new TtrpcError(Code.CANCELLED, "caller went away"));
    const err = await rejection(aborted);
    expect(err.code).toBe(Code.CANCELLED);
    source.write("kept");
    expect(text(await stream.read(10))).toBe("kept");
  });

  it("refuses a read that asks for nothing", async () => {
    const { stream } = attached();
    expect((await rejection(stream.read(0))).code).toBe(Code.INVALID_ARGUMENT);
  });

  it("pauses its source while the buffer is full and resumes once read", async () => {
    const { stream, source } = attached(8);
    source.write("0123456789");
    await until(() => stream.buffered === 10, 1000, "chunk buffered");
    expect(source.isPaused()).toBe(true);
    expect(text(await stream.read(5))).toBe("01234");
    expect(source.isPaused()).toBe(false);
  });

  it("keeps a fast writer blocked on its pipe instead of buffering everything", async () => {
    const limit = 64 << 10;
    const stream = new OutputStream("stdout of big/big", limit);
    const total = 4 << 20;
    const child = spawn("head", ["-c", String(total), "/dev/zero"], { stdio: ["ignore", "pipe", "ignore"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    stream.attach(child.stdout);
    await until(() => stream.buffered >= limit, 5000, "buffer filled");
    expect(await stateAfter(exited, 200)).toBe("pending");
    // A pipe read is at most 64 KiB: the buffer goes over the limit by less than one read.
    expect(stream.buffered).toBeLessThan(limit + (64 << 10));
    let received = 0;
    for (;;) {
      try {
        received += (await stream.read(1 << 20)).length;
      } catch (err) {
        expect((err as TtrpcError).code).toBe(END_OF_STREAM_CODE);
        break;
      }
    }
    expect(received).toBe(total);
    expect(await exited).toBe(0);
  });

  it("discard drops buffered data, closes the source and ends parked reads with the reason", async () => {
    const { stream, source } = attached();
    source.write("unread");
    await until(() => stream.buffered > 0, 1000, "data buffered");
    stream.discard("container removed");
    expect(stream.buffered).toBe(0);
    const err = await rejection(stream.read(10));
    expect(err.code).toBe(END_OF_STREAM_CODE);
    expect(err.statusMessage).toContain("container removed");
    await until(() => source.destroyed, 1000, "source destroyed");
  });
});
