// Starts a container process: its own session and process group (so a signal reaches the
// children it forks), three pipes, the spec's environment only, and optionally inside a
// network namespace by way of nsenter.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import fs from "node:fs/promises";
import { Code, TtrpcError } from "../ttrpc/index.ts";
import { environmentOf, type ProcessSpec } from "./process-spec.ts";

export interface LaunchOptions {
  /** Path of a network namespace (e.g. /run/netns/podns) the process starts in. */
  readonly netns?: string | undefined;
  /** The nsenter binary used to enter `netns`. */
  readonly nsenterPath?: string | undefined;
}

export const DEFAULT_NSENTER = "/usr/bin/nsenter";

/** Spawns the process; resolves once it runs, fails with FAILED_PRECONDITION if it cannot. */
export async function launchProcess(
  spec: ProcessSpec,
  options: LaunchOptions,
  what: string,
): Promise<ChildProcessWithoutNullStreams> {
  await checkDirectory(spec.cwd, what);
  const [file, ...args] = commandLine(spec, options);
  const child = spawn(file as string, args, {
    cwd: spec.cwd,
    env: environmentOf(spec.env),
    stdio: ["pipe", "pipe", "pipe"],
    // A new session makes the process a group leader: signalling -pid reaches its children.
    detached: true,
  });
  // Writes after the process closed its stdin fail with EPIPE; WriteStdin reports those itself.
  child.stdin.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      child.off("spawn", onSpawn);
      reject(
        new TtrpcError(
          Code.FAILED_PRECONDITION,
          `${what}: cannot run ${JSON.stringify(file)}: ${describeSpawnError(err)}`,
          { cause: err },
        ),
      );
    };
    const onSpawn = () => {
      child.off("error", onError);
      resolve();
    };
    child.once("error", onError);
    child.once("spawn", onSpawn);
  });
  return child;
}

function commandLine(spec: ProcessSpec, options: LaunchOptions): string[] {
  if (options.netns === undefined || options.netns === "") return [...spec.args];
  return [options.nsenterPath ?? DEFAULT_NSENTER, `--net=${options.netns}`, "--", ...spec.args];
}

async function checkDirectory(dir: string, what: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await fs.stat(dir)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be used (${(err as Error).message})`;
    throw new TtrpcError(Code.FAILED_PRECONDITION, `${what}: working directory ${dir} ${why}`, { cause: err });
  }
  if (!isDir) throw new TtrpcError(Code.FAILED_PRECONDITION, `${what}: working directory ${dir} is not a directory`);
}

function describeSpawnError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return "executable not found";
    case "EACCES":
      return "permission denied";
    default:
      return err.message;
  }
}
