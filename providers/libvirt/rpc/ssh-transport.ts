// qemu+ssh://: like libvirt, runs the system ssh client and, on the far side, virt-ssh-helper
// (or nc on the daemon's socket), then speaks the protocol over ssh's stdin/stdout. Key
// (keyfile), host-key checking (no_verify, known_hosts), port and user come from the URI.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { Duplex } from "node:stream";
import { flagParam, type LibvirtUri, LibvirtUriError } from "./libvirt-uri.ts";
import type { RpcTransport } from "./rpc-connection.ts";

const REMOTE_SYSTEM_SOCKET = "/var/run/libvirt/libvirt-sock";
const STDERR_KEPT = 4096;

/** The ssh command line for a URI (exported for tests). */
export function sshCommand(uri: LibvirtUri): { program: string; args: string[] } {
  const args: string[] = [];
  if (uri.port !== undefined) args.push("-p", String(uri.port));
  if (uri.user !== undefined) args.push("-l", uri.user);
  const keyfile = uri.params.get("keyfile");
  if (keyfile !== undefined && keyfile !== "") args.push("-i", keyfile);
  if (flagParam(uri, "no_tty")) args.push("-T");
  if (flagParam(uri, "no_verify")) args.push("-o", "StrictHostKeyChecking=no");
  const knownHosts = uri.params.get("known_hosts");
  if (knownHosts !== undefined && knownHosts !== "") args.push("-o", `UserKnownHostsFile=${knownHosts}`);
  // A daemon has nobody to type a password or accept a host key: fail fast and say why.
  args.push("-o", "BatchMode=yes", "-e", "none", "--", uri.host!, remoteCommand(uri));
  return { program: uri.params.get("command") ?? "ssh", args };
}

/** What runs on the remote host: virt-ssh-helper when it is there, else nc on the socket. */
export function remoteCommand(uri: LibvirtUri): string {
  const proxy = uri.params.get("proxy") ?? "auto";
  if (proxy !== "auto" && proxy !== "netcat" && proxy !== "native")
    throw new LibvirtUriError(uri.original, `proxy=${proxy}: expected auto, netcat or native`);
  const socket = uri.params.get("socket");
  const netcat = uri.params.get("netcat") ?? "nc";
  const helper = `virt-ssh-helper ${shellQuote(uri.remoteName)}`;
  const nc = `if ${shellQuote(netcat)} -q 2>&1 | grep 'requires an argument' >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; exec ${shellQuote(netcat)} $ARG -U ${shellQuote(socket ?? REMOTE_SYSTEM_SOCKET)}`;
  let script: string;
  if (proxy === "native") script = `exec ${helper}`;
  else if (proxy === "netcat" || socket !== undefined) script = nc;
  else script = `if command -v virt-ssh-helper >/dev/null 2>&1; then exec ${helper}; fi; ${nc}`;
  return `sh -c ${shellQuote(script)}`;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function openSshTransport(uri: LibvirtUri, signal?: AbortSignal): Promise<RpcTransport> {
  const { program, args } = sshCommand(uri);
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr = (stderr + c.toString("utf8")).slice(-STDERR_KEPT);
    });
    child.once("error", (err) =>
      reject(new Error(`cannot run ${program} for ${uri.original}: ${err.message}`, { cause: err })),
    );
    child.once("spawn", () => {
      const target = `${uri.user === undefined ? "" : `${uri.user}@`}${uri.host}${uri.port === undefined ? "" : `:${uri.port}`}`;
      resolve({ stream: new ChildDuplex(child), description: `ssh ${target}`, diagnostics: () => stderr.trim() });
    });
  });
}

/** ssh's stdout and stdin as one duplex; destroying it ends ssh. */
class ChildDuplex extends Duplex {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;

  constructor(child: ChildProcessByStdio<Writable, Readable, Readable>) {
    super();
    this.child = child;
    child.stdout.on("data", (c: Buffer) => {
      if (!this.push(c)) child.stdout.pause();
    });
    child.stdout.on("end", () => this.push(null));
    child.stdin.on("error", () => {
      // ssh went away; its exit below closes this duplex.
    });
    child.once("close", () => this.destroy());
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.child.stdin.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    cb(err);
  }
}
