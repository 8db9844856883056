// The credential the Compute Engine client signs requests with.
// - GCP_CREDENTIALS (a service-account key): the OAuth 2.0 JWT-bearer flow against the key's
//   token_uri, as Google's Go and Python libraries do. google-auth-library's JWT client always
//   asks Google's fixed token URL (and puts it in the assertion's audience), which breaks
//   private and sovereign token endpoints, so the exchange is done here; the library still
//   caches the token and refreshes it before it expires.
// - Otherwise Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, workload
//   identity, the metadata server. A service-account key file named there gets the same
//   token_uri treatment.
import { createSign } from "node:crypto";
import fs from "node:fs";
import { type AuthClient, type Credentials, GoogleAuth, JWT } from "google-auth-library";
import { parseServiceAccountKey, type ServiceAccountKey } from "./service-account-key.ts";
import { TokenError } from "./token-error.ts";

export const COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Longest wait for one token answer; the call's own deadline usually ends it sooner. */
const TOKEN_TIMEOUT_MS = 30_000;

/** Both kinds of client the compute library accepts as `authClient`. */
export type GcpAuth = AuthClient | GoogleAuth;

export function createAuth(
  key: ServiceAccountKey | undefined,
  env: Readonly<Record<string, string | undefined>>,
): GcpAuth {
  if (key !== undefined) return new TokenUriJwt(key);
  const file = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  if (file !== undefined && file !== "") {
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      text = undefined; // the library reports an unreadable file in its own words
    }
    const parsed = text === undefined ? undefined : parseServiceAccountKey(text);
    if (parsed !== undefined && typeof parsed !== "string") return new TokenUriJwt(parsed);
  }
  return new GoogleAuth({ scopes: [COMPUTE_SCOPE] });
}

/** Names the credential for logs and errors, without secrets. */
export function describeAuth(key: ServiceAccountKey | undefined): string {
  return key === undefined
    ? "Application Default Credentials"
    : `service account ${key.clientEmail} (token endpoint ${key.tokenUri})`;
}

/** google-auth-library's JWT client with the token exchange aimed at the key's token_uri. */
export class TokenUriJwt extends JWT {
  private readonly serviceAccount: ServiceAccountKey;

  constructor(key: ServiceAccountKey) {
    super({ email: key.clientEmail, key: key.privateKey, keyId: key.privateKeyId, scopes: [COMPUTE_SCOPE] });
    this.serviceAccount = key;
  }

  protected override async refreshTokenNoCache(): Promise<{ tokens: Credentials; res: null }> {
    const t = await exchangeJwt(this.serviceAccount, [COMPUTE_SCOPE]);
    const tokens: Credentials = { access_token: t.accessToken, token_type: "Bearer", expiry_date: t.expiresAt };
    this.emit("tokens", tokens);
    return { res: null, tokens };
  }
}

export interface AccessToken {
  readonly accessToken: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** One JWT-bearer exchange: a signed assertion for `scopes`, audience the token endpoint. */
export async function exchangeJwt(key: ServiceAccountKey, scopes: readonly string[]): Promise<AccessToken> {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", typ: "JWT", ...(key.privateKeyId === undefined ? {} : { kid: key.privateKeyId }) };
  const claims = { iss: key.clientEmail, scope: scopes.join(" "), aud: key.tokenUri, iat: now, exp: now + 3600 };
  const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign("RSA-SHA256").update(unsigned).sign(key.privateKey).toString("base64url");
  const who = `service account ${key.clientEmail}`;
  let res: Response;
  try {
    res = await fetch(key.tokenUri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: `${unsigned}.${signature}` }).toString(),
      signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
    });
  } catch (err) {
    const why = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new TokenError(
      `cannot reach the token endpoint ${key.tokenUri} for ${who}: ${why?.code ?? why?.message ?? (err as Error).message}`,
      { transient: true, cause: err },
    );
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // reported below with the status
  }
  const transient = res.status === 429 || res.status >= 500;
  if (!res.ok) {
    const code = typeof body.error === "string" ? body.error : undefined;
    const said =
      code === undefined
        ? `HTTP ${res.status}`
        : `${code}${typeof body.error_description === "string" ? `: ${body.error_description}` : ""}`;
    throw new TokenError(`the token endpoint ${key.tokenUri} refused ${who}: ${said}`, {
      status: res.status,
      ...(code === undefined ? {} : { error: code }),
      transient,
    });
  }
  const accessToken = body.access_token;
  const expiresIn = typeof body.expires_in === "number" ? body.expires_in : Number(body.expires_in ?? 3600);
  if (typeof accessToken !== "string" || accessToken === "") {
    throw new TokenError(`the token endpoint ${key.tokenUri} answered ${who} without an access_token`, {
      status: res.status,
      transient: false,
    });
  }
  return { accessToken, expiresAt: Date.now() + (Number.isFinite(expiresIn) ? expiresIn : 3600) * 1000 };
}

function b64url(s: string): string {
  return Buffer.from(s, "utf8").toString("base64url");
}
