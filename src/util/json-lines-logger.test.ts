// The relay's JSON-lines logger writes the lines pino writes for the daemon (same field names,
// same order, level as a label), filters by level, and never writes a secret's value.
import { hostname } from "node:os";
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createJsonLinesLogger } from "./json-lines-logger.ts";
import type { Log } from "./log.ts";

function capture(level: string) {
  const lines: string[] = [];
  const logger = createJsonLinesLogger(level, "peerpod-relay", (line) => lines.push(line));
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

/** The daemon's pino settings (util/logger.ts), writing to memory. */
function pinoLines(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino(
    {
      name: "peerpod-relay",
      level: "info",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  return { logger, lines };
}

describe("createJsonLinesLogger", () => {
  it("writes one line per call with pino's fields in pino's order", () => {
    const { logger, lines } = capture("info");
    const expected = pinoLines();
    for (const l of [logger, expected.logger] as Log[]) {
      l.child({ sandbox: "s1" }).info({ forwarder: "10.0.0.2:15150" }, "serving agent socket");
      l.warn("control plane detached");
    }
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith("\n") && l.indexOf("\n") === l.length - 1)).toBe(true);
    const ours = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const theirs = expected.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ours.map((r) => Object.keys(r))).toEqual(theirs.map((r) => Object.keys(r)));
    const withoutTime = (r: Record<string, unknown>) => ({ ...r, time: undefined });
    expect(ours.map(withoutTime)).toEqual(theirs.map(withoutTime));
    expect(ours[0]).toMatchObject({
      level: "info",
      pid: process.pid,
      hostname: hostname(),
      name: "peerpod-relay",
      sandbox: "s1",
      forwarder: "10.0.0.2:15150",
      msg: "serving agent socket",
    });
    expect(new Date(String(ours[0]!.time)).toISOString()).toBe(ours[0]!.time);
  });

  it("writes nothing below its level and nothing at all when silent", () => {
    const warn = capture("warn");
    warn.logger.debug("d");
    warn.logger.info({ a: 1 }, "i");
    warn.logger.warn("w");
    warn.logger.child({ x: 1 }).error("e");
    warn.logger.fatal("f");
    expect(warn.records().map((r) => [r.level, r.msg])).toEqual([
      ["warn", "w"],
      ["error", "e"],
      ["fatal", "f"],
    ]);
    const silent = capture("silent");
    silent.logger.fatal("f");
    expect(silent.lines).toEqual([]);
    const trace = capture("trace");
    trace.logger.trace("t");
    expect(trace.records()[0]).toMatchObject({ level: "trace", msg: "t" });
  });

  it("redacts secret fields at any depth and serialises errors", () => {
    const { logger, lines, records } = capture("info");
    logger.info(
      { key: "PRIVATE KEY", tls: { privateKey: "pk", ca: "public" }, userData: "ud", err: new Error("boom") },
      "hello",
    );
    expect(lines[0]).not.toMatch(/PRIVATE KEY|"pk"|"ud"/);
    expect(records()[0]).toMatchObject({
      key: "<redacted>",
      tls: { privateKey: "<redacted>", ca: "public" },
      userData: "<redacted>",
      err: { type: "Error", message: "boom", stack: expect.stringContaining("boom") },
    });
  });

  it("still writes the message when a field cannot be written as JSON", () => {
    const { logger, records } = capture("info");
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    logger.warn({ cycle }, "odd field");
    expect(records()[0]).toMatchObject({
      level: "warn",
      msg: "odd field",
      logError: expect.stringContaining("circular"),
    });
  });
});
