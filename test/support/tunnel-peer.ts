// A small TCP peer for the tunnel's tests and benchmark, started inside a network namespace
// (nsenter --net=… node tunnel-peer.ts ROLE …). It prints one JSON line per event on
// stdout: servers first print {"listening":port}, clients print their result and exit.
//
//   echo-server HOST PORT            echoes every connection; prints {"peer":address} per client
//   udp-holder HOST PORT             binds a UDP port and keeps it
//   echo-client HOST PORT BYTES      sends BYTES random bytes, checks the echo
//   sink-server HOST PORT            counts what each client sends; answers the count at its end
//   stream-client HOST PORT SECONDS  sends as fast as it can for SECONDS; prints bytes and time
//   pingpong-client HOST PORT COUNT SIZE   COUNT round trips of SIZE bytes; prints p50/p99 in µs
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

function listen(server: net.Server, host: string, port: number): void {
  server.listen(port, host, () => print({ listening: (server.address() as net.AddressInfo).port }));
}

function echoServer(host: string, port: number): void {
  const server = net.createServer((s) => {
    print({ peer: s.remoteAddress });
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  listen(server, host, port);
}

function sinkServer(host: string, port: number): void {
  const server = net.createServer((s) => {
    let bytes = 0;
    s.on("data", (c: Buffer) => (bytes += c.length));
    s.on("end", () => s.end(String(bytes)));
    s.on("error", () => s.destroy());
  });
  listen(server, host, port);
}

function udpHolder(host: string, port: number): void {
  const socket = dgram.createSocket("udp4");
  socket.bind(port, host, () => print({ listening: socket.address().port }));
}

/** Fails within CONNECT_TIMEOUT_MS rather than the kernel's minutes when nothing answers. */
const CONNECT_TIMEOUT_MS = 5_000;

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true, timeout: CONNECT_TIMEOUT_MS }, () => {
      s.setTimeout(0);
      resolve(s);
    });
    s.once("timeout", () => {
      s.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${CONNECT_TIMEOUT_MS} ms`));
    });
    s.once("error", reject);
  });
}

async function echoClient(host: string, port: number, size: number): Promise<void> {
  const s = await connect(host, port);
  const sent = randomBytes(size);
  const got: Buffer[] = [];
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    s.on("data", (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n >= size) resolve();
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`connection closed after ${n} of ${size} bytes`)));
    s.write(sent);
  });
  const echoed = Buffer.concat(got).subarray(0, size).equals(sent);
  print({ echoed, bytes: n, localAddress: s.localAddress, remoteAddress: s.remoteAddress });
  s.destroy();
}

async function streamClient(host: string, port: number, seconds: number): Promise<void> {
  const s = await connect(host, port);
  const chunk = randomBytes(1 << 20);
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  const answer = new Promise<string>((resolve, reject) => {
    let text = "";
    s.on("data", (c: Buffer) => (text += c.toString()));
    s.on("end", () => resolve(text));
    s.on("error", reject);
  });
  // Write while the socket takes data; wait for drain otherwise, until time is up.
  while (process.hrtime.bigint() < until) {
    sent += chunk.length;
    if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
  }
  s.end();
  const received = Number(await answer);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  print({ sent, received, seconds: elapsed });
}

async function pingpongClient(host: string, port: number, count: number, size: number): Promise<void> {
  const s = await connect(host, port);
  const msg = randomBytes(size);
  const samples: number[] = [];
  let pending: (() => void) | undefined;
  let have = 0;
  s.on("data", (c: Buffer) => {
    have += c.length;
    if (have >= size && pending !== undefined) {
      have -= size;
      const p = pending;
      pending = undefined;
      p();
    }
  });
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      pending = resolve;
      s.write(msg);
    });
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  s.destroy();
  // The first tenth warms up connection and JIT.
  const kept = samples.slice(Math.floor(count / 10)).sort((a, b) => a - b);
  const at = (q: number) => kept[Math.min(kept.length - 1, Math.floor(q * kept.length))]!;
  print({ p50us: at(0.5), p99us: at(0.99), count: kept.length });
}

async function main(): Promise<void> {
  const [role, host, portText, ...rest] = process.argv.slice(2);
  if (host === undefined || portText === undefined) throw new Error("usage: tunnel-peer ROLE HOST PORT …");
  const port = Number(portText);
  switch (role) {
    case "echo-server":
      return echoServer(host, port);
    case "sink-server":
      return sinkServer(host, port);
    case "udp-holder":
      return udpHolder(host, port);
    case "echo-client":
      return echoClient(host, port, Number(rest[0] ?? 1024));
    case "stream-client":
      return streamClient(host, port, Number(rest[0] ?? 3));
    case "pingpong-client":
      return pingpongClient(host, port, Number(rest[0] ?? 1000), Number(rest[1] ?? 64));
    default:
      throw new Error(`unknown role ${String(role)}`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`tunnel-peer: ${err.message}\n`);
  process.exit(1);
});
