// The requests a real Kata shim 3.5.0 sent in one container's life, replayed byte for byte in
// their order, with the long polls left open as the shim leaves them.

import { readdirSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  held,
  isRunning,
  PAYLOAD_DIR,
  recordedCall,
  rejection,
  replay,
  startTestAgent,
  stateAfter,
  type TestAgent,
  until,
} from "../../test/support/agent-harness.ts";
import { Code } from "../ttrpc/index.ts";
import { END_OF_STREAM_CODE } from "./output-stream.ts";

let t: TestAgent;

beforeEach(async () => {
  t = await startTestAgent();
});

afterEach(async () => {
  await t.close();
});

const call = (n: string) => {
  const file = readdirSync(PAYLOAD_DIR).find((f) => f.startsWith(`${n}_`));
  if (file === undefined) throw new Error(`no payload ${n}`);
  return recordedCall(file);
};

/** Reads a stream with one recorded request until it fails; returns the text and the failure. */
async function drain(n: string): Promise<{ text: string; code: number }> {
  let text = "";
  for (;;) {
    try {
      const reply = await replay(t.client, call(n));
      text += Buffer.from(reply.data as Uint8Array).toString();
    } catch (err) {
      return { text, code: (err as { code: number }).code };
    }
  }
}

describe("a shim 3.5.0 container life, replayed", () => {
  it("runs 003 to 023 to the end with the answers the shim needs", async () => {
    expect(await replay(t.client, call("003"))).toBeDefined(); // CreateSandbox
    expect(t.agent.sandbox.id).toBe("c3");

    const details = await replay(t.client, call("004")); // GetGuestDetails
    expect(details.memBlockSizeBytes).toBe(0n);
    expect((details.agentDetails as { version: string }).version).not.toBe("");

    await replay(t.client, call("005")); // CreateContainer: /bin/sleep 1000, not started yet
    expect(t.agent.sandbox.process("c3", "c3").state).toBe("created");
    await replay(t.client, call("006")); // StartContainer
    const init = t.agent.sandbox.process("c3", "c3");
    const initPid = init.pid as number;
    expect(isRunning(initPid)).toBe(true);

    // The long polls the shim leaves open for the container's whole life.
    const oom = held(replay(t.client, call("007")));
    const initStderr = held(replay(t.client, call("008")));
    const initStdout = held(replay(t.client, call("009")));
    const initStdout2 = held(replay(t.client, call("010")));
    const initWait = held(replay(t.client, call("011")));
    for (const p of [oom, initStderr, initStdout, initStdout2, initWait])
      expect(await stateAfter(p, 50)).toBe("pending");

    expect(await replay(t.client, call("012"))).toEqual(expect.objectContaining({ status: 1 })); // Health.Check: SERVING

    await replay(t.client, call("013")); // ExecProcess: /bin/ls /
    const execStderr = await rejection(replay(t.client, call("014")));
    expect(execStderr.code).toBe(END_OF_STREAM_CODE);
    const first = await replay(t.client, call("015"));
    const rest = await drain("016");
    expect(rest.code).toBe(END_OF_STREAM_CODE);
    const listing = Buffer.from(first.data as Uint8Array).toString() + rest.text;
    expect(listing.split("\n")).toEqual(expect.arrayContaining(readdirSync("/").filter((n) => !n.startsWith("."))));
    expect(await replay(t.client, call("017"))).toEqual(expect.objectContaining({ status: 0 })); // WaitProcess of the exec

    // The init process has not been disturbed by any of that.
    for (const p of [oom, initStderr, initStdout, initStdout2, initWait])
      expect(await stateAfter(p, 20)).toBe("pending");

    await replay(t.client, call("018")); // SignalProcess 15 to exec id "": the init process
    expect(await initWait).toEqual(expect.objectContaining({ status: 128 + 15 }));
    for (const read of [initStderr, initStdout, initStdout2])
      expect((await rejection(read)).code).toBe(END_OF_STREAM_CODE);
    await replay(t.client, call("019")); // SignalProcess 9 after the exit: still OK
    expect(await replay(t.client, call("020"))).toEqual(expect.objectContaining({ status: 143 }));

    await replay(t.client, call("021")); // RemoveContainer
    expect(t.agent.sandbox.containerIds()).toEqual([]);
    await replay(t.client, call("022")); // RemoveStaleVirtiofsShareMounts
    expect(await stateAfter(oom, 20)).toBe("pending");
    await replay(t.client, call("023")); // DestroySandbox
    expect((await rejection(oom)).code).toBe(Code.NOT_FOUND);
    expect(t.agent.sandbox.id).toBeUndefined();
    await until(() => !isRunning(initPid), 2000, "init process gone");
  });

  it("answers the recorded read and wait of a container that does not exist with NOT_FOUND", async () => {
    expect((await rejection(replay(t.client, call("009")))).code).toBe(Code.NOT_FOUND);
    expect((await rejection(replay(t.client, call("011")))).code).toBe(Code.NOT_FOUND);
    expect((await rejection(replay(t.client, call("018")))).code).toBe(Code.NOT_FOUND);
  });
});
