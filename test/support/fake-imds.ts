// A local stand-in for the EC2 instance metadata service, IMDSv2 only: a session token from
// `PUT /latest/api/token` must accompany every `GET /latest/meta-data/...`, as on an instance
// whose metadata options require tokens.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeImdsData {
  readonly region: string;
  readonly mac: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
}

export class FakeImds {
  readonly endpoint: string;
  private readonly server: http.Server;
  private readonly tokens = new Set<string>();
  /** Requests seen, as "METHOD path", for assertions. */
  readonly requests: string[] = [];

  private constructor(server: http.Server, endpoint: string) {
    this.server = server;
    this.endpoint = endpoint;
  }

  static async start(data: FakeImdsData): Promise<FakeImds> {
    let imds: FakeImds | undefined;
    const server = http.createServer((req, res) => imds?.serve(req, res, data));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    imds = new FakeImds(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return imds;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, data: FakeImdsData): void {
    const url = req.url ?? "";
    this.requests.push(`${req.method ?? ""} ${url}`);
    const reply = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === "PUT" && url === "/latest/api/token") {
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return reply(400, "");
      const token = randomBytes(32).toString("base64");
      this.tokens.add(token);
      return reply(200, token);
    }
    if (req.method !== "GET") return reply(405, "");
    const token = req.headers["x-aws-ec2-metadata-token"];
    if (typeof token !== "string" || !this.tokens.has(token)) return reply(401, "");
    const macPath = `/latest/meta-data/network/interfaces/macs/${data.mac}`;
    const answers: Record<string, string> = {
      "/latest/meta-data/placement/region": data.region,
      "/latest/meta-data/placement/availability-zone": `${data.region}a`,
      "/latest/meta-data/mac": data.mac,
      [`${macPath}/subnet-id`]: data.subnetId,
      [`${macPath}/security-group-ids`]: data.securityGroupIds.join("\n"),
    };
    const body = answers[url];
    if (body === undefined) return reply(404, "");
    reply(200, body);
  }
}
