// Why the sign-in authority could not be read. The identity library reports any failure to
// fetch the tenant's metadata as "endpoints_resolution_error" and drops the cause, which leaves
// an operator guessing between a wrong AZURE_AUTHORITY_HOST, a wrong tenant, a proxy and an
// untrusted certificate. Fetching the same document once says which.
import https from "node:https";

/** One line naming what went wrong reaching the authority, or undefined when it answers. */
export async function probeAuthority(
  authorityHost: string,
  tenantId: string,
  trustedCa: string | undefined,
  timeoutMs = 5000,
): Promise<string | undefined> {
  const url = `${authorityHost.replace(/\/+$/, "")}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
  return new Promise((resolve) => {
    const req = https.get(url, { timeout: timeoutMs, ...(trustedCa === undefined ? {} : { ca: trustedCa }) }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? undefined : `${url} answered HTTP ${status} (is AZURE_TENANT_ID right?)`);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) =>
      resolve(`${url} could not be reached: ${err.message}${err.code === undefined ? "" : ` (${err.code})`}`),
    );
  });
}
