// A scripted metadata service for provisioning tests, run inside a network namespace the test
// made (it listens on the link-local metadata address there, never on the host's).
//   node test/support/metadata-server-entry.ts ROUTES_JSON
// ROUTES_JSON maps "METHOD path" (path with query) to { status, body, base64, delayMs, header }:
// the answer (base64: the body is given base64 for binary answers), how long to stall first,
// and a request header ("name: value") required (401 without).
// Prints "ready" once listening; every request is logged on stderr as "METHOD path".
import http from "node:http";

interface Route {
  readonly status: number;
  readonly body?: string;
  readonly base64?: boolean;
  readonly delayMs?: number;
  readonly header?: string;
}

const routes = JSON.parse(process.argv[2] ?? "{}") as Record<string, Route>;
const server = http.createServer((req, res) => {
  const key = `${req.method} ${req.url}`;
  process.stderr.write(`${key}\n`);
  const route = routes[key];
  if (route === undefined) {
    res.writeHead(404).end("not found");
    return;
  }
  if (route.header !== undefined) {
    const [name, value] = route.header.split(/:\s*/, 2) as [string, string];
    if (req.headers[name.toLowerCase()] !== value) {
      res.writeHead(401).end("unauthorized");
      return;
    }
  }
  setTimeout(
    () => res.writeHead(route.status).end(Buffer.from(route.body ?? "", route.base64 === true ? "base64" : "utf8")),
    route.delayMs ?? 0,
  );
});
server.listen(80, "169.254.169.254", () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
