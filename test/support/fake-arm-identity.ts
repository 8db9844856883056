// The Microsoft Entra side of the fake Azure endpoint: the tenant's OpenID metadata and the
// OAuth2 v2.0 token endpoint, as the identity library's MSAL client calls them with instance
// discovery disabled. Client-credential grants only: a client secret or a client assertion
// (workload identity). Tokens are opaque strings bound to the audience they were asked for.
import { randomBytes, randomUUID } from "node:crypto";

export interface FakeIdentityOptions {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Accepted client assertion (the workload identity's projected token), if any. */
  readonly clientAssertion: string | undefined;
}

export interface IdentityAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** One issued token: the audience (resource) it is good for. */
export interface IssuedToken {
  readonly audience: string;
  readonly clientId: string;
}

export class FakeIdentity {
  private readonly o: FakeIdentityOptions;
  private readonly tokens = new Map<string, IssuedToken>();
  /** Token requests answered, successful or not. */
  tokenRequests = 0;

  constructor(options: FakeIdentityOptions) {
    this.o = options;
  }

  /** Answers /{tenant}/... paths, or undefined when the path is not an identity path. */
  handle(method: string, segments: readonly string[], body: string, baseUrl: string): IdentityAnswer | undefined {
    const [tenant, ...rest] = segments;
    const path = rest.join("/").toLowerCase();
    if (tenant === undefined) return undefined;
    if (method === "GET" && path === "v2.0/.well-known/openid-configuration") return this.metadata(tenant, baseUrl);
    if (method === "POST" && path === "oauth2/v2.0/token") return this.token(tenant, body);
    return undefined;
  }

  /** The audiences of the tokens issued so far, without repeats. */
  audiences(): string[] {
    return [...new Set([...this.tokens.values()].map((t) => t.audience))];
  }

  /** The token's grant, or undefined when the bearer token was never issued. */
  lookup(token: string): IssuedToken | undefined {
    return this.tokens.get(token);
  }

  private metadata(tenant: string, baseUrl: string): IdentityAnswer {
    if (tenant !== this.o.tenantId)
      return aadError(400, "invalid_tenant", `AADSTS90002: Tenant '${tenant}' not found.`);
    const base = `${baseUrl}/${tenant}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${baseUrl}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ["sub", "iss", "aud", "exp", "iat", "nonce", "tid"],
        tenant_region_scope: "NA",
      },
    };
  }

  private token(tenant: string, body: string): IdentityAnswer {
    this.tokenRequests++;
    if (tenant !== this.o.tenantId)
      return aadError(400, "invalid_tenant", `AADSTS90002: Tenant '${tenant}' not found.`);
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "client_credentials")
      return aadError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.");
    const clientId = form.get("client_id");
    if (clientId !== this.o.clientId) {
      return aadError(
        400,
        "unauthorized_client",
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
      );
    }
    const secret = form.get("client_secret");
    const assertion = form.get("client_assertion");
    const secretOk = secret !== null && secret === this.o.clientSecret;
    const assertionOk =
      assertion !== null &&
      this.o.clientAssertion !== undefined &&
      assertion === this.o.clientAssertion &&
      form.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    if (!secretOk && !assertionOk) {
      return secret !== null
        ? aadError(
            401,
            "invalid_client",
            `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
          )
        : aadError(
            401,
            "invalid_client",
            "AADSTS700211: No matching federated identity record found for presented assertion.",
          );
    }
    const scope = form.get("scope") ?? "";
    const resource = scope.split(" ").find((s) => s.endsWith("/.default"));
    if (resource === undefined)
      return aadError(
        400,
        "invalid_scope",
        `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      );
    const token = randomBytes(24).toString("base64url");
    this.tokens.set(token, { audience: resource.slice(0, -"/.default".length), clientId });
    return { status: 200, body: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: token } };
  }
}

function aadError(status: number, error: string, description: string): IdentityAnswer {
  const now = new Date().toISOString().replace("T", " ").slice(0, 19);
  return {
    status,
    body: {
      error,
      error_description: `${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${now}Z`,
      error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)],
      timestamp: `${now}Z`,
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    },
  };
}
