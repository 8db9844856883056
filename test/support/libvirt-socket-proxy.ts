// A relay in front of libvirtd's socket, on TCP or a unix socket: lets tests reach the
// daemon through qemu+tcp:// and cut every connection at once (what a daemon dying looks
// like to a client) without stopping the daemon other tests share.
import fs from "node:fs/promises";
import net from "node:net";

export interface SocketProxy {
  /** TCP port, or the unix socket path. */
  readonly address: number | string;
  /** Connections relayed so far. */
  readonly accepted: number;
  /** Destroys every relayed connection; new ones are still accepted unless `refuse`. */
  cut(options?: { refuse?: boolean }): void;
  close(): Promise<void>;
}

export async function startSocketProxy(target: string, listen: { port: 0 } | { path: string }): Promise<SocketProxy> {
  const live = new Set<net.Socket>();
  let refuse = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    if (refuse) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = net.createConnection({ path: target });
    live.add(client);
    live.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  if ("path" in listen) await fs.rm(listen.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if ("path" in listen) server.listen(listen.path, resolve);
    else server.listen(0, "127.0.0.1", resolve);
  });
  const address = "path" in listen ? listen.path : (server.address() as net.AddressInfo).port;
  return {
    address,
    get accepted() {
      return accepted;
    },
    cut: (options = {}) => {
      refuse = options.refuse ?? false;
      for (const s of live) s.destroy();
      live.clear();
    },
    close: async () => {
      for (const s of live) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
