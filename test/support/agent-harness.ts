// Shared by the agent's tests: an agent on a temporary socket with a client connected to it,
// the recorded shim payloads, and process checks.

import { readdirSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type DescMethod, fromBinary } from "@bufbuild/protobuf";
import { type AgentHandle, type StartAgentOptions, startAgent } from "../../src/agent/agent-server.ts";
import { AgentService } from "../../src/gen/agent_pb.js";
import { Health } from "../../src/gen/health_pb.js";
import { Client, TtrpcError } from "../../src/ttrpc/index.ts";

export const PAYLOAD_DIR = fileURLToPath(
  new URL("../../../shared/reference/kata-shim-3.5.0-requests/", import.meta.url),
);

export interface TestAgent {
  readonly agent: AgentHandle;
  readonly client: Client;
  readonly dir: string;
  /** Closes the client and the agent (killing its processes) and removes the directory. */
  close(): Promise<void>;
}

export async function startTestAgent(options: StartAgentOptions = {}): Promise<TestAgent> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "agent-"));
  const agent = await startAgent({ socketPath: path.join(dir, "agent.sock"), shutdownGraceMs: 500, ...options });
  const client = await Client.connect(agent.socketPath);
  return {
    agent,
    client,
    dir,
    close: async () => {
      client.close();
      await agent.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A recorded request: its method (by wire name) and its exact bytes. */
export interface RecordedCall {
  readonly file: string;
  readonly method: DescMethod;
  readonly payload: Uint8Array;
}

export function recordedCall(file: string): RecordedCall {
  const name = /^\d+_([A-Za-z]+)\.bin$/.exec(file)?.[1];
  const method = [...AgentService.methods, ...Health.methods].find((m) => m.name === name);
  if (method === undefined) throw new Error(`${file} is not an agent request`);
  return { file, method, payload: new Uint8Array(readFileSync(path.join(PAYLOAD_DIR, file))) };
}

/** Sends a recorded request byte for byte and decodes the reply. */
export async function replay(client: Client, call: RecordedCall): Promise<Record<string, unknown>> {
  const reply = await client.callRaw(call.method.parent.typeName, call.method.name, call.payload);
  return fromBinary(call.method.output, reply) as unknown as Record<string, unknown>;
}

/** The error a promise rejects with (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<TtrpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TtrpcError) return err;
    throw err;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** "pending" if the promise has not settled within `ms`. */
export async function stateAfter(promise: Promise<unknown>, ms: number): Promise<"pending" | "settled"> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  const settled = promise.then(
    () => "settled" as const,
    () => "settled" as const,
  );
  const state = await Promise.race([pending, settled]);
  clearTimeout(timer);
  return state;
}

/** Whether a process with this pid runs (a zombie counts as gone: it only awaits reaping). */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // The state follows the command name, which is in parentheses and may contain spaces.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Pids of the live processes in a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the name: state, ppid, pgrp, ...
    if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry));
  }
  return members;
}

/** Polls until cond() holds, failing after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Marks a call the test awaits later as handled now, so that failing before the test looks
 * at it is not reported as an unhandled rejection. The returned promise still fails. */
export function held<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
