// Local socket and plain TCP transports: a net.Socket is already the byte pipe RpcConnection
// needs; only reaching it needs care (which socket file, clear errors, the caller's deadline).
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { LibvirtConnectionError } from "./libvirt-error.ts";
import type { LibvirtUri } from "./libvirt-uri.ts";
import type { RpcTransport } from "./rpc-connection.ts";

export const DEFAULT_TCP_PORT = 16509;
const SYSTEM_SOCKET_DIR = "/var/run/libvirt";

/**
 * The local socket for a URI: `socket=` wins; else the monolithic daemon's socket, or the
 * driver's own daemon (virtqemud) on hosts running libvirt's modular daemons.
 */
export function localSocketPath(
  uri: LibvirtUri,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const explicit = uri.params.get("socket");
  if (explicit !== undefined && explicit !== "") return explicit;
  const dir =
    uri.path === "/session"
      ? path.join(env.XDG_RUNTIME_DIR ?? path.join(env.HOME ?? "/root", ".cache"), "libvirt")
      : SYSTEM_SOCKET_DIR;
  const monolithic = path.join(dir, "libvirt-sock");
  const modular = path.join(dir, `virt${uri.driver}d-sock`);
  return !existsSync(monolithic) && existsSync(modular) ? modular : monolithic;
}

export function openUnixTransport(socketPath: string, signal?: AbortSignal): Promise<RpcTransport> {
  return connectSocket(net.createConnection({ path: socketPath }), `unix socket ${socketPath}`, signal, (code) =>
    code === "ENOENT" || code === "ECONNREFUSED"
      ? " (is libvirtd running?)"
      : code === "EACCES"
        ? " (no permission: run as root or join the libvirt group)"
        : "",
  );
}

export function openTcpTransport(host: string, port: number, signal?: AbortSignal): Promise<RpcTransport> {
  return connectSocket(net.createConnection({ host, port }), `tcp ${host}:${port}`, signal, (code) =>
    code === "ECONNREFUSED"
      ? " (is libvirtd listening on TCP? listen_tcp=1 and --listen, or the virtproxyd-tcp socket)"
      : "",
  );
}

function connectSocket(
  socket: net.Socket,
  description: string,
  signal: AbortSignal | undefined,
  hint: (code: string | undefined) => string,
): Promise<RpcTransport> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      socket.destroy();
      reject(signal!.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener("abort", onAbort);
      reject(
        new LibvirtConnectionError(`cannot reach libvirt at ${description}: ${err.message}${hint(err.code)}`, {
          cause: err,
        }),
      );
    });
    socket.once("connect", () => {
      signal?.removeEventListener("abort", onAbort);
      socket.removeAllListeners("error");
      socket.setNoDelay(true);
      resolve({ stream: socket, description, diagnostics: () => "" });
    });
  });
}
