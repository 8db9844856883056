// A minimal IMDSv2 client: a session token first (PUT), then plain-text metadata reads (GET)
// carrying it. Only what the provider needs: the worker's region, subnet and security groups.

const TOKEN_TTL_SECONDS = 300;

export class ImdsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ImdsError";
  }
}

export class ImdsClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private token: string | undefined;

  /** `endpoint` like http://169.254.169.254; each request gives up after `timeoutMs` (off EC2
   * the link-local address does not answer at all, so this bounds start-up). */
  constructor(endpoint: string, timeoutMs = 1000) {
    this.base = endpoint.replace(/\/+$/, "");
    this.timeoutMs = timeoutMs;
  }

  async get(path: string, signal: AbortSignal): Promise<string> {
    this.token ??= await this.request(
      "PUT",
      "/latest/api/token",
      { "x-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal,
    );
    const token = this.token;
    return (await this.request("GET", path, { "x-aws-ec2-metadata-token": token }, signal)).trim();
  }

  private async request(
    method: string,
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<string> {
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]),
        redirect: "error",
      });
    } catch (err) {
      signal.throwIfAborted();
      throw new ImdsError(
        `instance metadata service at ${this.base} did not answer ${method} ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const body = await res.text();
    if (!res.ok) throw new ImdsError(`instance metadata service answered ${method} ${path} with HTTP ${res.status}`);
    return body;
  }
}

/** The worker's region. */
export async function readRegion(imds: ImdsClient, signal: AbortSignal): Promise<string> {
  const region = await imds.get("/latest/meta-data/placement/region", signal);
  if (region === "") throw new ImdsError("instance metadata service gave an empty region");
  return region;
}

// The primary interface's MAC names its metadata folder; checked before it goes into a path.
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** The subnet and security groups of the worker's primary network interface. */
export async function readPrimaryInterface(
  imds: ImdsClient,
  signal: AbortSignal,
): Promise<{ subnetId: string; securityGroupIds: string[] }> {
  const mac = await imds.get("/latest/meta-data/mac", signal);
  if (!MAC.test(mac)) throw new ImdsError(`instance metadata service gave ${JSON.stringify(mac)} as the MAC address`);
  const nic = `/latest/meta-data/network/interfaces/macs/${mac}`;
  const subnetId = await imds.get(`${nic}/subnet-id`, signal);
  const securityGroupIds = (await imds.get(`${nic}/security-group-ids`, signal)).split(/\s+/).filter((s) => s !== "");
  if (subnetId === "") throw new ImdsError("instance metadata service gave an empty subnet id");
  return { subnetId, securityGroupIds };
}
