// A local HTTPS endpoint that answers like the Kubernetes API server does for nodes (and the
// kube-system namespace, whose UID identifies the cluster), for tests
// driven by the real @kubernetes/client-node: bearer-token auth, GET of a node and of its status,
// PATCH of the status subresource in the patch formats the API server takes (JSON Patch, merge
// patch, strategic merge patch; others 415), a resourceVersion precondition (409), Status
// objects for errors, and faults on demand (409/429/5xx, with Retry-After). Namespaced objects
// (pods, service accounts, secrets) answer GET by name, and paths can be forbidden (403) as an
// RBAC denial would.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { applyJsonPatch, type PatchOp } from "./json-patch-apply.ts";
import { TestCa } from "./test-certs.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface FakeNode {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion: string; [k: string]: Json };
  spec: Json;
  status: { capacity?: Record<string, string>; allocatable?: Record<string, string>; conditions?: Json };
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: string;
}

export interface Fault {
  readonly status: number;
  readonly retryAfterSeconds?: number;
}

const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
};

function status(code: number, message: string): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: REASONS[code] ?? "Unknown",
    code,
  });
}

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// RFC 7386. Strategic merge behaves the same on the maps a node's status capacity is made of.
function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key] ?? null, value);
  }
  return out;
}

export class FakeKubeApi {
  readonly ca: TestCa;
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  private readonly nodes = new Map<string, FakeNode>();
  // "<namespace>/<plural>/<name>" → object, for GET /api/v1/namespaces/<namespace>/<plural>/<name>.
  private readonly namespaced = new Map<string, Json>();
  private readonly forbidden: string[] = [];
  private readonly faults: Array<{ method: string; fault: Fault }> = [];
  private readonly server: https.Server;
  private version = 100;
  /** The cluster's identity: the kube-system namespace's UID. */
  readonly kubeSystemUid = randomUUID();

  private constructor(ca: TestCa, server: https.Server, token: string) {
    this.ca = ca;
    this.server = server;
    this.token = token;
  }

  static async start(token = "test-token"): Promise<FakeKubeApi> {
    const ca = await TestCa.create("fake kube-apiserver CA");
    const tls = await ca.issueServer({ commonName: "kube-apiserver" });
    let api: FakeKubeApi | undefined;
    const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => api!.handle(req, res, Buffer.concat(chunks).toString("utf8")));
    });
    api = new FakeKubeApi(ca, server, token);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return api;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig for this server: its CA inline, the bearer token, one context. */
  kubeconfig(o: { token?: string; caPem?: string; server?: string } = {}): string {
    const ca = Buffer.from(o.caPem ?? this.ca.pem).toString("base64");
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: fake",
      "  cluster:",
      `    server: ${o.server ?? this.url}`,
      `    certificate-authority-data: ${ca}`,
      "users:",
      "- name: daemon",
      "  user:",
      `    token: ${o.token ?? this.token}`,
      "contexts:",
      "- name: fake",
      "  context: {cluster: fake, user: daemon}",
      "current-context: fake",
      "",
    ].join("\n");
  }

  addNode(name: string, capacity: Record<string, string> = { cpu: "4", memory: "16318812Ki", pods: "110" }): void {
    this.nodes.set(name, {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        uid: `uid-${name}`,
        resourceVersion: String(++this.version),
        labels: { "kubernetes.io/hostname": name },
      },
      spec: { podCIDR: "10.244.1.0/24" },
      status: {
        capacity: { ...capacity },
        allocatable: { ...capacity },
        conditions: [{ type: "Ready", status: "True" }],
      },
    });
  }

  node(name: string): FakeNode | undefined {
    const node = this.nodes.get(name);
    return node === undefined ? undefined : structuredClone(node);
  }

  /** What the kubelet does when it re-registers a node: the capacity without extended resources. */
  resetCapacity(name: string, capacity: Record<string, string>): void {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    node.status.capacity = { ...capacity };
    node.metadata.resourceVersion = String(++this.version);
  }

  /** Stores a namespaced object (plural: "pods", "serviceaccounts", "secrets"). */
  put(plural: string, namespace: string, object: { metadata: { name: string } } & Record<string, Json>): void {
    const kind = { pods: "Pod", serviceaccounts: "ServiceAccount", secrets: "Secret" }[plural] ?? plural;
    const metadata = {
      namespace,
      uid: `uid-${namespace}-${object.metadata.name}`,
      resourceVersion: String(++this.version),
      ...object.metadata,
    };
    this.namespaced.set(`${namespace}/${plural}/${object.metadata.name}`, {
      apiVersion: "v1",
      kind,
      ...object,
      metadata,
    });
  }

  /** Requests whose path starts with `prefix` answer 403, as an RBAC denial does. */
  forbid(prefix: string): void {
    this.forbidden.push(prefix);
  }

  /** The next request(s) with this method answer with the fault instead. */
  failNext(method: "GET" | "PATCH", fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push({ method, fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const method = req.method ?? "";
    // Only the path is read: a fixed base, since a request that lands while the server closes
    // finds no address to build the real one from.
    const path = new URL(req.url ?? "/", "https://kube-apiserver.invalid").pathname;
    const contentType = req.headers["content-type"];
    this.requests.push({ method, path, contentType, authorization: req.headers.authorization, body });
    const reply = (code: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(code, { "content-type": "application/json", ...headers });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) return reply(401, status(401, "Unauthorized"));
    const faultIndex = this.faults.findIndex((f) => f.method === method);
    if (faultIndex >= 0) {
      const { fault } = this.faults.splice(faultIndex, 1)[0]!;
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) };
      const message =
        fault.status === 409
          ? "Operation cannot be fulfilled on nodes: the object has been modified; please apply your changes to the latest version and try again"
          : `injected ${fault.status}`;
      return reply(fault.status, status(fault.status, message), headers);
    }

    if (this.forbidden.some((prefix) => path.startsWith(prefix))) {
      return reply(
        403,
        status(403, `${path} is forbidden: User "system:serviceaccount:test:daemon" cannot get resource`),
      );
    }
    const object = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (object !== null) {
      const [, namespace, plural, name] = object.map((p) => decodeURIComponent(p ?? ""));
      const found = this.namespaced.get(`${namespace}/${plural}/${name}`);
      if (method !== "GET") return reply(405, status(405, `method ${method} not allowed here`));
      return found === undefined
        ? reply(404, status(404, `${plural} "${name}" not found`))
        : reply(200, JSON.stringify(found));
    }
    if (method === "GET" && path === "/api/v1/namespaces/kube-system") {
      return reply(
        200,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: "kube-system", uid: this.kubeSystemUid, resourceVersion: "1" },
        }),
      );
    }
    const match = /^\/api\/v1\/nodes\/([^/]+)(\/status)?$/.exec(path);
    if (match === null) return reply(404, status(404, "the server could not find the requested resource"));
    const name = decodeURIComponent(match[1]!);
    const node = this.nodes.get(name);
    if (node === undefined) return reply(404, status(404, `nodes "${name}" not found`));

    if (method === "GET") return reply(200, JSON.stringify(node));
    if (method !== "PATCH" || match[2] === undefined)
      return reply(405, status(405, `method ${method} not allowed here`));

    let patch: Json;
    try {
      patch = JSON.parse(body) as Json;
    } catch (err) {
      return reply(400, status(400, `error decoding patch: ${(err as Error).message}`));
    }
    let next: FakeNode;
    const type = (contentType ?? "").split(";")[0]!.trim();
    try {
      switch (type) {
        case "application/json-patch+json":
          if (!Array.isArray(patch)) return reply(400, status(400, "json patch must be a list of operations"));
          next = applyJsonPatch(node, patch as unknown as PatchOp[]);
          break;
        case "application/merge-patch+json":
        case "application/strategic-merge-patch+json": {
          const precondition = isObject(patch) && isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
          if (precondition !== undefined && precondition !== node.metadata.resourceVersion) {
            return reply(
              409,
              status(409, `Operation cannot be fulfilled on nodes "${name}": the object has been modified`),
            );
          }
          next = mergePatch(node as unknown as Json, patch) as unknown as FakeNode;
          break;
        }
        default:
          return reply(
            415,
            status(
              415,
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
            ),
          );
      }
    } catch (err) {
      return reply(422, status(422, `the patch does not apply: ${(err as Error).message}`));
    }
    // The status subresource changes the status only.
    node.status = next.status;
    node.metadata.resourceVersion = String(++this.version);
    return reply(200, JSON.stringify(node));
  }
}
