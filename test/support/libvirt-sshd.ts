// A private sshd on 127.0.0.1 with a generated host key and a generated client key allowed
// to log in as root: the far side of qemu+ssh:// tests.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./daemon-process.ts";

const run = promisify(execFile);

export interface TestSshd {
  readonly port: number;
  /** Private key of a client allowed in as root. */
  readonly clientKey: string;
  /** A key sshd does not accept. */
  readonly strangerKey: string;
  readonly knownHosts: string;
  stop(): Promise<void>;
}

export async function startTestSshd(): Promise<TestSshd> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "caa-sshd-"));
  const key = (name: string) =>
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.join(dir, name)]);
  await Promise.all([key("host"), key("client"), key("stranger")]);
  await fs.copyFile(path.join(dir, "client.pub"), path.join(dir, "authorized_keys"));
  await fs.chmod(path.join(dir, "authorized_keys"), 0o600);
  const port = await freePort();
  const hostPub = (await fs.readFile(path.join(dir, "host.pub"), "utf8")).trim().split(" ").slice(0, 2).join(" ");
  await fs.writeFile(path.join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostPub}\n`);
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${path.join(dir, "host")}`,
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "LogLevel ERROR",
  ].join("\n");
  await fs.writeFile(path.join(dir, "sshd_config"), `${config}\n`);
  // sshd insists on its privilege separation directory.
  await fs.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${stderr}`);
    try {
      await fs.access(path.join(dir, "sshd.pid"));
      break;
    } catch {
      if (i > 100) throw new Error(`sshd did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    clientKey: path.join(dir, "client"),
    strangerKey: path.join(dir, "stranger"),
    knownHosts: path.join(dir, "known_hosts"),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
