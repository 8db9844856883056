// AWS instance metadata, IMDSv2: a session token first (PUT), then the user-data with it.
// EC2 hands user-data back as given (the daemon sends it plain; gzip is undone by the caller).
import { metadataRequest } from "./http-request.ts";
import { SourceError, type UserDataSource } from "./source-error.ts";

export const AWS_IMDS_ENDPOINT = "http://169.254.169.254";

export function awsImdsSource(o: { endpoint?: string; timeoutMs?: number } = {}): UserDataSource {
  const base = (o.endpoint ?? AWS_IMDS_ENDPOINT).replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? 2000;
  return {
    name: "aws-imds",
    async read(signal) {
      const token = await metadataRequest({
        method: "PUT",
        url: `${base}/latest/api/token`,
        headers: { "X-aws-ec2-metadata-token-ttl-seconds": "300" },
        timeoutMs,
        signal,
        maxBytes: 4096,
      });
      if (token.status !== 200)
        throw new SourceError(
          token.status === 404 ? "missing" : "failed",
          `PUT ${base}/latest/api/token: HTTP ${token.status} (IMDSv2 token refused)`,
        );
      const value = token.body.toString("utf8").trim();
      if (value === "" || /[\r\n]/.test(value))
        throw new SourceError("failed", `PUT ${base}/latest/api/token: the answer is not a token`);
      const ud = await metadataRequest({
        method: "GET",
        url: `${base}/latest/user-data`,
        headers: { "X-aws-ec2-metadata-token": value },
        timeoutMs,
        signal,
      });
      if (ud.status === 404)
        throw new SourceError("missing", `GET ${base}/latest/user-data: HTTP 404 (the instance has no user-data)`);
      if (ud.status !== 200) throw new SourceError("failed", `GET ${base}/latest/user-data: HTTP ${ud.status}`);
      return ud.body;
    },
  };
}
