// A local HTTPS endpoint that speaks Azure Resource Manager and Microsoft Entra's token
// endpoint the way Azure does, for the real @azure/arm-compute, @azure/arm-network and
// @azure/identity clients: bearer tokens checked per audience, `api-version` required,
// long-running operations with Azure-AsyncOperation / Location and Retry-After, error bodies
// {"error":{"code","message"}} with Azure's codes, lists paged with nextLink. It keeps state
// (see fake-arm-model.ts) and injects faults on demand: throttling, error answers, creations
// that end Failed, and connections dropped before or after a request took effect.
//
// The certificate is made at start by a throwaway CA (`caPem`): clients trust it through
// NODE_EXTRA_CA_CERTS (read by Node at start-up only) or through the SDK's tlsOptions.

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { FakeIdentity } from "./fake-arm-identity.ts";
import {
  ArmHttpError,
  type ArmReply,
  FakeArmModel,
  type FakeArmSize,
  objectAt,
  stringAt,
  type VmLauncher,
} from "./fake-arm-model.ts";
import {
  type ConnectionFault,
  dropConnection,
  FakeHttpsEndpoint,
  type HttpsEndpoint,
  type InjectedFault,
  listenHttps,
  pathSegments,
} from "./fake-https-endpoint.ts";

export type { FakeArmSize, VmLaunch, VmLauncher } from "./fake-arm-model.ts";
export type { FaultHandle } from "./fake-https-endpoint.ts";

export interface FakeArmOptions {
  readonly subscriptionId?: string;
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** The workload identity token the token endpoint accepts as client assertion. */
  readonly clientAssertion?: string;
  readonly resourceGroup?: string;
  readonly location?: string;
  readonly sizes?: readonly FakeArmSize[];
  /** Makes VMs real; without one a VM keeps the NIC's 10.0.0.x address and runs nothing. */
  readonly launcher?: VmLauncher;
  /** Duration of each long-running operation (besides the launch); default 40 ms. */
  readonly operationMs?: number;
  /** Retry-After seconds on long-running operation answers; default 0 (client's interval). */
  readonly retryAfterSeconds?: number;
  /** Items per list page before a nextLink; default 2, so lists really page. */
  readonly pageSize?: number;
}

export const DEFAULT_FAKE_SIZES: readonly FakeArmSize[] = [
  { name: "Standard_B2s", vcpus: 2, memoryMiB: 4096, confidential: false },
  { name: "Standard_D2as_v5", vcpus: 2, memoryMiB: 8192, confidential: false },
  { name: "Standard_DC2as_v5", vcpus: 2, memoryMiB: 8192, confidential: true },
  { name: "Standard_DC4as_v5", vcpus: 4, memoryMiB: 16384, confidential: true },
  { name: "Standard_EC4as_v5", vcpus: 4, memoryMiB: 32768, confidential: true },
  { name: "Standard_DC8as_v5", vcpus: 8, memoryMiB: 32768, confidential: true },
];

/** What a fault applies to; unset fields match anything. */
export interface FaultMatch {
  readonly method?: string;
  /** The request's resource type: virtualMachines, networkInterfaces, publicIPAddresses,
   * disks, subnets, networkSecurityGroups, images, versions, vmSizes, operations, token. */
  readonly type?: string;
  readonly name?: string;
  /** VM PUTs only: the size asked for. */
  readonly vmSize?: string;
}

export type FaultAction =
  /** 429 with Retry-After, as Resource Manager throttles. */
  | { readonly kind: "throttle"; readonly retryAfterSeconds: number }
  /** An error answer, instead of doing the request. */
  | { readonly kind: "error"; readonly status: number; readonly code: string; readonly message: string }
  /** VM PUT: accepted (201), but the creation ends Failed with this code; the VM stays, Failed. */
  | { readonly kind: "fail-operation"; readonly code: string; readonly message: string }
  | ConnectionFault;

export interface FaultRule extends FaultMatch, InjectedFault<FaultAction> {}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** The query string with its "?", e.g. "?api-version=2026-04-01&$skiptoken=2". */
  readonly query: string;
  readonly type: string;
  readonly name: string | undefined;
  readonly apiVersion: string | undefined;
  /** HTTP status answered, or "dropped". */
  status: number | "dropped";
}

interface Route {
  readonly type: string;
  readonly name: string | undefined;
}

type Json = Record<string, unknown>;

export class FakeArm extends FakeHttpsEndpoint<FaultRule, RecordedRequest, FakeArmModel> {
  readonly subscriptionId: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly identity: FakeIdentity;
  private readonly pageSize: number;

  private constructor(
    endpoint: HttpsEndpoint,
    model: FakeArmModel,
    identity: FakeIdentity,
    o: Required<
      Pick<
        FakeArmOptions,
        "subscriptionId" | "tenantId" | "clientId" | "clientSecret" | "resourceGroup" | "location" | "pageSize"
      >
    >,
  ) {
    super(endpoint, model);
    this.identity = identity;
    this.subscriptionId = o.subscriptionId;
    this.tenantId = o.tenantId;
    this.clientId = o.clientId;
    this.clientSecret = o.clientSecret;
    this.resourceGroup = o.resourceGroup;
    this.location = o.location;
    this.pageSize = o.pageSize;
  }

  static async start(options: FakeArmOptions = {}): Promise<FakeArm> {
    const endpoint = await listenHttps("fake Azure CA", "management.fake-azure.test");
    const o = {
      subscriptionId: options.subscriptionId ?? "0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a",
      tenantId: options.tenantId ?? "72f988bf-86f1-41af-91ab-2d7cd011db47",
      clientId: options.clientId ?? "4e2a9c1d-0f3b-4a5c-8d7e-6b1a2c3d4e5f",
      clientSecret: options.clientSecret ?? "fake~secret.value_1234567890",
      resourceGroup: options.resourceGroup ?? "rg-peerpods",
      location: options.location ?? "eastus",
      pageSize: options.pageSize ?? 2,
    };
    const model = new FakeArmModel(
      {
        subscriptionId: o.subscriptionId,
        resourceGroup: o.resourceGroup,
        location: o.location,
        sizes: options.sizes ?? DEFAULT_FAKE_SIZES,
        launcher: options.launcher,
        operationMs: options.operationMs ?? 40,
        retryAfterSeconds: options.retryAfterSeconds ?? 0,
      },
      () => endpoint.url,
    );
    const identity = new FakeIdentity({
      tenantId: o.tenantId,
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      clientAssertion: options.clientAssertion,
    });
    return new FakeArm(endpoint, model, identity, o);
  }

  /** The provider's environment for this endpoint (client-secret sign-in). */
  env(): Record<string, string> {
    return {
      AZURE_SUBSCRIPTION_ID: this.subscriptionId,
      AZURE_REGION: this.location,
      AZURE_RESOURCE_GROUP: this.resourceGroup,
      AZURE_SUBNET_ID: this.model.subnetId(),
      AZURE_IMAGE_ID: this.model.galleryImageVersionId(),
      AZURE_NSG_ID: this.model.nsgId(),
      AZURE_CLIENT_ID: this.clientId,
      AZURE_CLIENT_SECRET: this.clientSecret,
      AZURE_TENANT_ID: this.tenantId,
      AZURE_AUTHORITY_HOST: this.url,
      AZURE_RESOURCE_MANAGER_ENDPOINT: this.url,
    };
  }

  /** Requests of one method and type, e.g. count("PUT", "virtualMachines"). */
  count(method: string, type: string): number {
    return this.requests.filter((r) => r.method === method && r.type === type).length;
  }

  // --- request handling ---------------------------------------------------------------------

  protected answerBroken(res: ServerResponse, err: unknown): void {
    this.send(res, { status: 500, body: armError("InternalServerError", String(err)) });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const segments = pathSegments(url);
    const route = routeOf(segments);
    const apiVersion = url.searchParams.get("api-version") ?? undefined;
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: url.search,
      type: route.type,
      name: route.name,
      apiVersion,
      status: 0,
    };
    this.requests.push(record);

    let body: Json = {};
    if (text !== "" && route.type !== "token") {
      try {
        body = JSON.parse(text) as Json;
      } catch {
        return this.answer(res, record, {
          status: 400,
          body: armError("InvalidRequestContent", "The request content was invalid and could not be deserialized."),
        });
      }
    }

    const vmSize =
      route.type === "virtualMachines" && method === "PUT"
        ? stringAt(objectAt(objectAt(body, "properties"), "hardwareProfile"), "vmSize")
        : undefined;
    const fault = this.takeFault(method, route, vmSize);
    if (fault?.kind === "drop") return dropConnection(res, record);
    if (fault?.kind === "throttle") {
      return this.answer(res, record, {
        status: 429,
        headers: { "retry-after": String(fault.retryAfterSeconds) },
        body: armError(
          "TooManyRequests",
          "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:03:00.",
        ),
      });
    }
    if (fault?.kind === "error")
      return this.answer(res, record, { status: fault.status, body: armError(fault.code, fault.message) });
    if (fault?.kind === "fail-operation")
      this.model.pendingFailures.push({ size: vmSize ?? "*", code: fault.code, message: fault.message });

    let reply: ArmReply;
    try {
      reply = this.dispatch(method, segments, url, body, text, req.headers.authorization);
    } catch (err) {
      if (!(err instanceof ArmHttpError)) throw err;
      reply = { status: err.status, headers: err.headers, body: armError(err.code, err.message) };
    }
    if (fault?.kind === "drop-after-accept") return dropConnection(res, record);
    this.answer(res, record, reply);
  }

  private takeFault(method: string, route: Route, vmSize: string | undefined): FaultAction | undefined {
    const same = (want: string | undefined, got: string | undefined) =>
      want === undefined || want.toLowerCase() === (got ?? "").toLowerCase();
    return this.faults.take(
      (r) =>
        (r.method === undefined || r.method === method) &&
        same(r.type, route.type) &&
        same(r.name, route.name) &&
        same(r.vmSize, vmSize),
    );
  }

  private dispatch(
    method: string,
    segments: readonly string[],
    url: URL,
    body: Json,
    text: string,
    authorization: string | undefined,
  ): ArmReply {
    if (segments[0]?.toLowerCase() !== "subscriptions") {
      const answer = this.identity.handle(method, segments, text, this.url);
      if (answer === undefined) throw new ArmHttpError(404, "NotFound", `No route for ${method} ${url.pathname}.`);
      return { status: answer.status, body: answer.body };
    }
    this.authenticate(authorization);
    const apiVersion = url.searchParams.get("api-version");
    if (apiVersion === null)
      throw new ArmHttpError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );
    if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(apiVersion))
      throw new ArmHttpError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid.`);
    const sub = segments[1] ?? "";
    if (sub.toLowerCase() !== this.subscriptionId.toLowerCase())
      throw new ArmHttpError(404, "SubscriptionNotFound", `The subscription '${sub}' could not be found.`);

    const lower = segments.map((s) => s.toLowerCase());
    if (lower[2] === "providers" && lower[4] === "locations")
      return this.locationScoped(method, segments, lower, url, apiVersion);
    if (lower[2] !== "resourcegroups" || lower[4] !== "providers")
      throw new ArmHttpError(404, "InvalidResourceType", `No resource type at ${url.pathname}.`);
    const rg = segments[3] ?? "";
    if (rg.toLowerCase() !== this.resourceGroup.toLowerCase())
      throw new ArmHttpError(404, "ResourceGroupNotFound", `Resource group '${rg}' could not be found.`);
    const rest = segments.slice(6);
    const types = rest.filter((_, i) => i % 2 === 0).map((t) => t.toLowerCase());
    const names = rest.filter((_, i) => i % 2 === 1);
    const key = `${lower[5]}/${types.join("/")}`;
    const name = names[0];
    const m = this.model;
    const list = (items: Json[]): ArmReply => this.page(items, url);
    switch (`${method} ${key} ${names.length}`) {
      case "GET microsoft.compute/virtualmachines 0":
        return list(m.listVms());
      case "GET microsoft.compute/virtualmachines 1":
        return m.getVm(name!, url.searchParams.get("$expand") ?? undefined);
      case "PUT microsoft.compute/virtualmachines 1":
        return m.putVm(name!, body, apiVersion);
      case "DELETE microsoft.compute/virtualmachines 1":
        return m.deleteVm(name!, apiVersion);
      case "GET microsoft.compute/disks 0":
        return list(m.listDisks());
      case "GET microsoft.compute/disks 1":
        return m.getDisk(name!);
      case "PATCH microsoft.compute/disks 1":
        return m.patchDisk(name!, body);
      case "DELETE microsoft.compute/disks 1":
        return m.deleteDisk(name!, apiVersion);
      case "GET microsoft.compute/images 1":
        return m.getManagedImage(name!);
      case "GET microsoft.compute/galleries/images 2":
        return m.getGalleryImage(names[0]!, names[1]!, undefined);
      case "GET microsoft.compute/galleries/images/versions 3":
        return m.getGalleryImage(names[0]!, names[1]!, names[2]!);
      case "GET microsoft.network/networkinterfaces 0":
        return list(m.listNics());
      case "GET microsoft.network/networkinterfaces 1":
        return m.getNic(name!);
      case "PUT microsoft.network/networkinterfaces 1":
        return m.putNic(name!, body, apiVersion);
      case "DELETE microsoft.network/networkinterfaces 1":
        return m.deleteNic(name!, apiVersion);
      case "GET microsoft.network/publicipaddresses 0":
        return list(m.listPublicIps());
      case "GET microsoft.network/publicipaddresses 1":
        return m.getPublicIp(name!);
      case "PUT microsoft.network/publicipaddresses 1":
        return m.putPublicIp(name!, body, apiVersion);
      case "DELETE microsoft.network/publicipaddresses 1":
        return m.deletePublicIp(name!, apiVersion);
      case "GET microsoft.network/virtualnetworks/subnets 2":
        return m.getSubnet(names[0]!, names[1]!);
      case "GET microsoft.network/networksecuritygroups 1":
        return m.getNsg(name!);
      default:
        throw new ArmHttpError(
          404,
          "InvalidResourceType",
          `The resource type '${types.join("/")}' could not be found in the namespace '${segments[5]}' for api version '${apiVersion}'.`,
        );
    }
  }

  private locationScoped(
    method: string,
    segments: readonly string[],
    lower: readonly string[],
    url: URL,
    apiVersion: string,
  ): ArmReply {
    if (method !== "GET")
      throw new ArmHttpError(
        405,
        "MethodNotAllowed",
        `The requested resource does not support http method '${method}'.`,
      );
    const location = segments[5] ?? "";
    const what = lower[6];
    if (what === "vmsizes" && segments.length === 7)
      return { status: 200, body: { value: this.model.listSizes(location) } };
    if (what === "operations" && segments.length === 8) return this.model.pollOperation(segments[7]!);
    if (what === "operationresults" && segments.length === 8) return this.model.operationResult(segments[7]!);
    if (what === "communitygalleries" && segments.length === 12)
      return this.model.getCommunityImageVersion(location, segments[7]!, segments[9]!, segments[11]!);
    throw new ArmHttpError(
      404,
      "InvalidResourceType",
      `No resource type at ${url.pathname} for api version '${apiVersion}'.`,
    );
  }

  private authenticate(header: string | undefined): void {
    const challenge = {
      "www-authenticate": `Bearer authorization_uri="${this.url}/${this.tenantId}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`,
    };
    if (header === undefined || !header.startsWith("Bearer "))
      throw new ArmHttpError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        challenge,
      );
    const grant = this.identity.lookup(header.slice("Bearer ".length));
    if (grant === undefined)
      throw new ArmHttpError(401, "InvalidAuthenticationToken", "The access token is invalid.", challenge);
    if (grant.audience.replace(/\/+$/, "") !== this.url) {
      throw new ArmHttpError(
        401,
        "InvalidAuthenticationTokenAudience",
        `The access token has been obtained for wrong audience or resource '${grant.audience}'. It should exactly match with one of the allowed audiences '${this.url}/'.`,
        challenge,
      );
    }
  }

  private page(items: Json[], url: URL): ArmReply {
    const skip = Number(url.searchParams.get("$skiptoken") ?? "0");
    const value = items.slice(skip, skip + this.pageSize);
    const body: Json = { value };
    if (skip + this.pageSize < items.length) {
      const next = new URL(url.href);
      next.searchParams.set("$skiptoken", String(skip + this.pageSize));
      body.nextLink = `${this.url}${next.pathname}${next.search}`;
    }
    return { status: 200, body };
  }

  private answer(res: ServerResponse, record: RecordedRequest, reply: ArmReply): void {
    record.status = reply.status;
    this.send(res, reply);
  }

  private send(res: ServerResponse, reply: ArmReply): void {
    const headers: Record<string, string> = {
      "x-ms-request-id": randomUUID(),
      "x-ms-correlation-request-id": randomUUID(),
      "cache-control": "no-cache",
      ...reply.headers,
    };
    if (reply.body === undefined || reply.status === 204) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    const data = JSON.stringify(reply.body);
    res
      .writeHead(reply.status, {
        ...headers,
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(data)),
      })
      .end(data);
  }
}

function armError(code: string, message: string): Json {
  return { error: { code, message } };
}

/** The resource type and name a path is about, for fault matching and the request log. */
function routeOf(segments: readonly string[]): Route {
  const lower = segments.map((s) => s.toLowerCase());
  if (lower[0] !== "subscriptions") return { type: lower.at(-1) === "token" ? "token" : "identity", name: undefined };
  if (lower[2] === "providers" && lower[4] === "locations") {
    const what = segments[6] ?? "";
    if (lower[6] === "operations" || lower[6] === "operationresults") return { type: "operations", name: segments[7] };
    return {
      type: what === "communityGalleries" || lower[6] === "communitygalleries" ? "versions" : what,
      name: segments.at(-1),
    };
  }
  const rest = segments.slice(6);
  if (rest.length === 0) return { type: "resourceGroups", name: segments[3] };
  // The innermost type and its name (a list has a type and no name).
  if (rest.length % 2 === 1) return { type: rest.at(-1)!, name: undefined };
  return { type: rest.at(-2)!, name: rest.at(-1) };
}
