import { spawn } from "node:child_process";

export class CommandError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(command: string, exitCode: number | null, stderr: string, signal: NodeJS.Signals | null) {
    const how = signal ? `killed by ${signal}` : `exit code ${exitCode}`;
    super(`${command}: ${how}${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
    this.name = "CommandError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/**
 * Runs a program without a shell and returns its stdout; a non-zero exit throws with the
 * command line and its stderr, so callers can pass the failure on to an operator.
 */
export function runCommand(
  program: string,
  args: readonly string[],
  options: { signal?: AbortSignal; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e) => reject(new Error(`${program} ${args.join(" ")}: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new CommandError(`${program} ${args.join(" ")}`, code, Buffer.concat(err).toString("utf8"), signal));
    });
    // A program that exits without reading its input closes the pipe first: its exit code,
    // not that EPIPE, tells how it went.
    child.stdin.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") reject(e);
    });
    child.stdin.end(options.input ?? "");
  });
}
