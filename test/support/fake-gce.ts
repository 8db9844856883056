// A local HTTPS endpoint that speaks the Compute Engine REST API (v1) and Google's OAuth 2.0
// token endpoint the way Google serves them, for the real @google-cloud/compute client on its
// REST transport and the provider's JWT-bearer exchange: bearer tokens checked, JSON bodies in
// Compute Engine's shapes, zonal operations, errors {"error":{"code","message","errors":[{
// "domain","reason","message"}],"details":[ErrorInfo]}} with Google's reasons, lists paged with
// nextPageToken and filtered by labels, request-id de-duplication. It keeps state (see
// fake-gce-model.ts) and injects faults on demand: 429, 5xx, operations that end in error,
// connections dropped before or after a request took effect.
//
// The certificate is made at start by a throwaway CA (`caPem`): clients trust it through
// NODE_EXTRA_CA_CERTS (the daemon) or tls.setDefaultCACertificates (in-process tests).
import { createVerify, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  FakeGceModel,
  type FakeMachineType,
  GceHttpError,
  type GceLauncher,
  type Json,
  type OperationFailure,
  parseLabelFilter,
} from "./fake-gce-model.ts";
import {
  type ConnectionFault,
  dropConnection,
  FakeHttpsEndpoint,
  type HttpsEndpoint,
  type InjectedFault,
  listenHttps,
  pathSegments,
} from "./fake-https-endpoint.ts";

export type { FakeMachineType, GceLauncher } from "./fake-gce-model.ts";

export const DEFAULT_MACHINE_TYPES: readonly FakeMachineType[] = [
  { name: "e2-medium", vcpus: 2, memoryMb: 4096 },
  { name: "e2-standard-4", vcpus: 4, memoryMb: 16384 },
  { name: "n2d-standard-2", vcpus: 2, memoryMb: 8192 },
  { name: "n2d-standard-4", vcpus: 4, memoryMb: 16384 },
  { name: "n2d-highmem-4", vcpus: 4, memoryMb: 32768 },
  { name: "n2d-standard-8", vcpus: 8, memoryMb: 32768 },
  { name: "c3-standard-4", vcpus: 4, memoryMb: 16384 },
  { name: "g2-standard-4", vcpus: 4, memoryMb: 16384, gpus: 1 },
];

export interface FakeGceOptions {
  readonly project?: string;
  readonly zone?: string;
  readonly machineTypes?: readonly FakeMachineType[];
  readonly launcher?: GceLauncher;
  /** Duration of each step of an operation; default 30 ms. */
  readonly operationMs?: number;
  /** Longest a zoneOperations.wait holds; default 200 ms (Google: about 2 minutes). */
  readonly waitMs?: number;
  /** Items per list page when the client asks for more; default 2, so lists really page. */
  readonly pageSize?: number;
}

export interface FaultMatch {
  readonly method?: string;
  /** instances, operations, disks, machineTypes, images, networks, subnetworks, zones, token. */
  readonly resource?: string;
  /** Inserts only: the machine type asked for. */
  readonly machineType?: string;
}

export type FaultAction =
  /** 429 rateLimitExceeded, as Compute Engine throttles. */
  | { readonly kind: "throttle" }
  /** An error answer instead of doing the request. */
  | { readonly kind: "error"; readonly status: number; readonly reason: string; readonly message: string }
  /** Insert accepted, but its operation ends DONE with this error; no instance remains. */
  | { readonly kind: "fail-operation"; readonly failure: OperationFailure }
  | ConnectionFault;

export interface FaultRule extends FaultMatch, InjectedFault<FaultAction> {}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly resource: string;
  readonly name: string | undefined;
  readonly requestId: string | undefined;
  readonly body: Json | undefined;
  status: number | "dropped";
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute";

export class FakeGce extends FakeHttpsEndpoint<FaultRule, RecordedRequest, FakeGceModel> {
  readonly clientEmail: string;
  /** Access tokens issued, with what they are good for. */
  readonly tokens = new Map<string, { scope: string; expiresAt: number }>();
  tokenRequests = 0;
  private readonly pageSize: number;
  private readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private readonly privateKeyId = randomBytes(20).toString("hex");

  private constructor(endpoint: HttpsEndpoint, model: FakeGceModel, pageSize: number) {
    super(endpoint, model);
    this.pageSize = pageSize;
    this.clientEmail = `peerpods@${model.project}.iam.gserviceaccount.com`;
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    this.publicKey = publicKey;
  }

  static async start(options: FakeGceOptions = {}): Promise<FakeGce> {
    const endpoint = await listenHttps("fake Google CA", "compute.fake-google.test");
    const url = endpoint.url;
    const model = new FakeGceModel({
      project: options.project ?? "peerpods-test-1",
      zone: options.zone ?? "us-central1-a",
      baseUrl: () => url,
      machineTypes: options.machineTypes ?? DEFAULT_MACHINE_TYPES,
      launcher: options.launcher,
      operationMs: options.operationMs ?? 30,
      waitMs: options.waitMs ?? 200,
    });
    return new FakeGce(endpoint, model, options.pageSize ?? 2);
  }

  /** The service-account key file's text, its token_uri this endpoint's token path. */
  serviceAccountKey(overrides: Record<string, string> = {}): string {
    return JSON.stringify({
      type: "service_account",
      project_id: this.model.project,
      private_key_id: this.privateKeyId,
      private_key: this.privateKeyPem,
      client_email: this.clientEmail,
      client_id: "109876543210987654321",
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: `${this.url}/token`,
      auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(this.clientEmail)}`,
      universe_domain: "googleapis.com",
      ...overrides,
    });
  }

  /** The provider's environment for this endpoint. */
  env(): Record<string, string> {
    return {
      GCP_PROJECT_ID: this.model.project,
      GCP_ZONE: this.model.zone,
      GCP_NETWORK: "default",
      PODVM_IMAGE_NAME: "podvm-image",
      GCP_MACHINE_TYPE: "n2d-standard-2",
      GCP_CONFIDENTIAL_TYPE: "SEV_SNP",
      GCP_CREDENTIALS: this.serviceAccountKey(),
      GCP_COMPUTE_ENDPOINT: this.url,
    };
  }

  /** Requests of one method and resource, e.g. count("POST", "instances"). */
  count(method: string, resource: string): number {
    return this.requests.filter((r) => r.method === method && r.resource === resource).length;
  }

  // --- request handling ---------------------------------------------------------------------

  protected answerBroken(res: ServerResponse, err: unknown): void {
    this.send(res, { status: 500, body: googleError(500, "backendError", String(err)) });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const segments = pathSegments(url);
    const { resource, name } = routeOf(segments);
    let body: Json | undefined;
    if (text !== "" && resource !== "token") {
      try {
        body = JSON.parse(text) as Json;
      } catch {
        return this.answer(res, this.record(method, url, resource, name, undefined), {
          status: 400,
          body: googleError(400, "parseError", "Parse Error"),
        });
      }
    }
    const record = this.record(method, url, resource, name, body);
    const machineType =
      resource === "instances" && method === "POST"
        ? (String(body?.machineType ?? "")
            .split("/")
            .at(-1) ?? "")
        : undefined;
    const fault = this.takeFault(method, resource, machineType);
    if (fault?.kind === "drop") return dropConnection(res, record);
    if (fault?.kind === "throttle")
      return this.answer(res, record, {
        status: 429,
        body: googleError(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
      });
    if (fault?.kind === "error")
      return this.answer(res, record, {
        status: fault.status,
        body: googleError(fault.status, fault.reason, fault.message),
      });
    if (fault?.kind === "fail-operation")
      this.model.pendingFailures.push({ machineType: machineType ?? "*", failure: fault.failure });

    let reply: Reply;
    try {
      reply =
        resource === "token"
          ? this.token(method, text)
          : await this.dispatch(method, segments, url, body, req.headers.authorization);
    } catch (err) {
      if (!(err instanceof GceHttpError)) throw err;
      reply = { status: err.status, body: googleError(err.status, err.reason, err.message, "global", err.details) };
    }
    if (fault?.kind === "drop-after-accept") return dropConnection(res, record);
    this.answer(res, record, reply);
  }

  private record(
    method: string,
    url: URL,
    resource: string,
    name: string | undefined,
    body: Json | undefined,
  ): RecordedRequest {
    const r: RecordedRequest = {
      method,
      path: url.pathname,
      resource,
      name,
      requestId: url.searchParams.get("requestId") ?? undefined,
      body,
      status: 0,
    };
    this.requests.push(r);
    return r;
  }

  private takeFault(method: string, resource: string, machineType: string | undefined): FaultAction | undefined {
    return this.faults.take(
      (r) =>
        (r.method === undefined || r.method === method) &&
        (r.resource === undefined || r.resource === resource) &&
        (r.machineType === undefined || r.machineType === machineType),
    );
  }

  private async dispatch(
    method: string,
    s: readonly string[],
    url: URL,
    body: Json | undefined,
    authorization: string | undefined,
  ): Promise<Reply> {
    if (s[0] !== "compute" || s[1] !== "v1" || s[2] !== "projects")
      throw new GceHttpError(404, "notFound", `The requested URL ${url.pathname} was not found on this server.`);
    this.authenticate(authorization);
    const m = this.model;
    const project = s[3] ?? "";
    if (project !== m.project)
      throw new GceHttpError(404, "notFound", `The resource 'projects/${project}' was not found`);
    const ok = (b: unknown): Reply => ({ status: 200, body: b });
    const rest = s.slice(4);
    const shape =
      rest[0] === "global"
        ? rest[2] === "family"
          ? "global/images/family/*"
          : `global/${rest[1] ?? ""}/*`
        : rest.map((x, i) => (i % 2 === 1 ? "*" : x)).join("/");
    const key = `${method} ${shape}`;
    switch (key) {
      case "GET zones/*":
        m.require("compute.zones.get", `projects/${project}/zones/${s[5]}`);
        return ok(m.getZone(s[5]!));
      case "GET global/networks/*":
        m.require("compute.networks.get", `projects/${project}/global/networks/${s[6]}`);
        return ok(m.getNetwork(s[6]!));
      case "GET regions/*/subnetworks/*":
        m.require("compute.subnetworks.get", `projects/${project}/regions/${s[5]}/subnetworks/${s[7]}`);
        return ok(m.getSubnetwork(s[5]!, s[7]!));
      case "GET global/images/*":
        m.require("compute.images.get", `projects/${project}/global/images/${s[6]}`);
        return ok(m.getImage(s[6]!));
      case "GET global/images/family/*":
        m.require("compute.images.getFromFamily", `projects/${project}/global/images/family/${s[7]}`);
        return ok(m.getImageFromFamily(s[7]!));
    }
    const zone = s[5] ?? "";
    if (s[4] === "zones" && zone !== m.zone)
      throw new GceHttpError(404, "notFound", `The resource 'projects/${project}/zones/${zone}' was not found`);
    switch (key) {
      case "GET zones/*/machineTypes":
        m.require("compute.machineTypes.list", `projects/${project}/zones/${zone}`);
        return ok(this.page("compute#machineTypeList", m.machineTypeList(), url, `zones/${zone}/machineTypes`));
      case "GET zones/*/instances":
        m.require("compute.instances.list", `projects/${project}/zones/${zone}`);
        return ok(
          this.page(
            "compute#instanceList",
            this.filtered([...m.instances.values()], url),
            url,
            `zones/${zone}/instances`,
          ),
        );
      case "POST zones/*/instances":
        return ok(m.insertInstance(body ?? {}, url.searchParams.get("requestId") ?? undefined));
      case "GET zones/*/instances/*":
        m.require("compute.instances.get", `projects/${project}/zones/${zone}/instances/${s[7]}`);
        return ok(publicView(m.getInstance(s[7]!)));
      case "DELETE zones/*/instances/*":
        return ok(m.deleteInstance(s[7]!, url.searchParams.get("requestId") ?? undefined));
      case "GET zones/*/disks":
        m.require("compute.disks.list", `projects/${project}/zones/${zone}`);
        return ok(this.page("compute#diskList", this.filtered([...m.disks.values()], url), url, `zones/${zone}/disks`));
      case "GET zones/*/disks/*":
        m.require("compute.disks.get", `projects/${project}/zones/${zone}/disks/${s[7]}`);
        return ok(m.getDisk(s[7]!));
      case "DELETE zones/*/disks/*":
        return ok(m.deleteDisk(s[7]!, url.searchParams.get("requestId") ?? undefined));
      case "GET zones/*/operations/*":
        return ok(m.getOperation(s[7]!));
      case "POST zones/*/operations/*/wait":
        return ok(await m.waitOperation(s[7]!));
      default:
        throw new GceHttpError(404, "notFound", `The requested URL ${url.pathname} was not found on this server.`);
    }
  }

  private filtered(items: Json[], url: URL): Json[] {
    const filter = url.searchParams.get("filter");
    if (filter === null || filter === "") return items.map(publicView);
    const test = parseLabelFilter(filter);
    if (test === undefined)
      throw new GceHttpError(
        400,
        "invalid",
        `Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`,
      );
    return items.filter((i) => test((i.labels ?? {}) as Record<string, string>)).map(publicView);
  }

  /** A list answer: at most maxResults (and this fake's page size) items, then a page token. */
  private page(kind: string, items: Json[], url: URL, path: string): Json {
    const asked = Number(url.searchParams.get("maxResults") ?? "500");
    const size = Math.min(Number.isFinite(asked) && asked > 0 ? asked : 500, this.pageSize);
    const start = Number(Buffer.from(url.searchParams.get("pageToken") ?? "", "base64url").toString() || "0");
    const out: Json = {
      kind,
      id: `projects/${this.model.project}/${path}`,
      items: items.slice(start, start + size),
      selfLink: this.model.link(path),
    };
    if (start + size < items.length) out.nextPageToken = Buffer.from(String(start + size)).toString("base64url");
    return out;
  }

  private authenticate(header: string | undefined): void {
    const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
    const grant = token === undefined ? undefined : this.tokens.get(token);
    if (grant === undefined || grant.expiresAt < Date.now() || !grant.scope.split(" ").includes(COMPUTE_SCOPE)) {
      throw new GceHttpError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
      );
    }
  }

  /** The OAuth 2.0 token endpoint: the JWT-bearer grant of a service account. */
  private token(method: string, text: string): Reply {
    this.tokenRequests++;
    const refuse = (error: string, description: string, status = 400): Reply => ({
      status,
      body: { error, error_description: description },
    });
    if (method !== "POST") return refuse("invalid_request", "Only POST is supported", 405);
    const form = new URLSearchParams(text);
    if (form.get("grant_type") !== JWT_BEARER)
      return refuse("unsupported_grant_type", `Invalid grant_type: ${form.get("grant_type") ?? ""}`);
    const parts = (form.get("assertion") ?? "").split(".");
    if (parts.length !== 3)
      return refuse(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
      );
    const [h, p, sig] = parts as [string, string, string];
    let header: Json;
    let claims: Json;
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString()) as Json;
      claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Json;
    } catch {
      return refuse("invalid_grant", "Invalid JWT: could not decode.");
    }
    if (header.alg !== "RS256") return refuse("invalid_grant", "Invalid JWT: unsupported algorithm.");
    if (claims.iss !== this.clientEmail) return refuse("invalid_grant", "Invalid grant: account not found");
    const valid = createVerify("RSA-SHA256").update(`${h}.${p}`).verify(this.publicKey, Buffer.from(sig, "base64url"));
    if (!valid) return refuse("invalid_grant", "Invalid JWT Signature.");
    if (claims.aud !== `${this.url}/token`) return refuse("invalid_grant", "Invalid JWT: Failed audience check.");
    const now = Math.floor(Date.now() / 1000);
    if (
      typeof claims.exp !== "number" ||
      typeof claims.iat !== "number" ||
      claims.exp < now ||
      claims.iat > now + 300 ||
      claims.exp - claims.iat > 3600
    ) {
      return refuse(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    }
    const access = `ya29.${randomBytes(32).toString("base64url")}`;
    this.tokens.set(access, { scope: String(claims.scope ?? ""), expiresAt: Date.now() + 3599_000 });
    return { status: 200, body: { access_token: access, expires_in: 3599, token_type: "Bearer" } };
  }

  private answer(res: ServerResponse, record: RecordedRequest, reply: Reply): void {
    record.status = reply.status;
    this.send(res, reply);
  }

  private send(res: ServerResponse, reply: Reply): void {
    const data = JSON.stringify(reply.body);
    res
      .writeHead(reply.status, {
        "content-type": "application/json; charset=UTF-8",
        "content-length": String(Buffer.byteLength(data)),
        vary: "Origin, X-Origin, Referer",
      })
      .end(data);
  }
}

/** Google's error body, as Compute Engine sends it. */
function googleError(code: number, reason: string, message: string, domain = "global", details?: Json[]): Json {
  return {
    error: { code, message, errors: [{ message, domain, reason }], ...(details === undefined ? {} : { details }) },
  };
}

/** An instance as the API shows it (without what this fake keeps for tests). */
function publicView(i: Json): Json {
  const { _requestBody, ...rest } = i;
  void _requestBody;
  return rest;
}

function routeOf(s: readonly string[]): { resource: string; name: string | undefined } {
  if (s[0] === "token") return { resource: "token", name: undefined };
  const rest = s.slice(4);
  if (rest[0] === "zones" && rest.length >= 3) {
    return { resource: rest[2]!, name: rest[3] };
  }
  if (rest[0] === "zones") return { resource: "zones", name: rest[1] };
  if (rest[0] === "global") return { resource: rest[1] ?? "", name: rest.at(-1) };
  if (rest[0] === "regions") return { resource: rest[2] ?? "", name: rest[3] };
  return { resource: "", name: undefined };
}
