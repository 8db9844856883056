// Waiting for a task: poll its TaskInfo until it succeeds (its result) or fails (its fault as a
// VimFault), within the caller's deadline. Polls start fast (most tasks finish in well under a
// second) and slow down to `maxPollMs`.
import { setTimeout as sleep } from "node:timers/promises";
import { type MoRef, showRef } from "./moref.ts";
import { retrieveObject } from "./property-collector.ts";
import type { VimClient } from "./vim-client.ts";
import { vimFaultFrom } from "./vim-fault.ts";
import { child, childText, type XmlElement } from "./xml-node.ts";

export interface WaitOptions {
  readonly firstPollMs?: number;
  readonly maxPollMs?: number;
}

/** Returns the task's result element (undefined for tasks without one); throws its fault. */
export async function waitForTask(
  client: VimClient,
  task: MoRef,
  what: string,
  signal: AbortSignal,
  options: WaitOptions = {},
): Promise<XmlElement | undefined> {
  const maxPollMs = options.maxPollMs ?? 2000;
  let pause = Math.min(options.firstPollMs ?? 50, maxPollMs);
  for (;;) {
    const found = await retrieveObject(client, task, ["info"], signal);
    if (found === undefined) throw new Error(`${what}: task ${showRef(task)} vanished before it finished`);
    const info = found.props.get("info");
    const state = childText(info, "state");
    if (state === "success") return child(info, "result");
    if (state === "error") {
      const error = child(info, "error");
      throw vimFaultFrom(what, child(error, "fault"), childText(error, "localizedMessage") ?? "");
    }
    await sleep(pause, undefined, { signal });
    pause = Math.min(pause * 2, maxPollMs);
  }
}
