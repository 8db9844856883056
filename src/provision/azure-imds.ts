// Azure instance metadata: the VM's userData (base64, as set at creation), asked with the
// Metadata header IMDS requires.
import { metadataRequest } from "./http-request.ts";
import { SourceError, type UserDataSource } from "./source-error.ts";

export const AZURE_IMDS_ENDPOINT = "http://169.254.169.254";
const PATH = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text";

export function azureImdsSource(o: { endpoint?: string; timeoutMs?: number } = {}): UserDataSource {
  const base = (o.endpoint ?? AZURE_IMDS_ENDPOINT).replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? 2000;
  return {
    name: "azure-imds",
    async read(signal) {
      const url = `${base}${PATH}`;
      const res = await metadataRequest({ method: "GET", url, headers: { Metadata: "true" }, timeoutMs, signal });
      if (res.status === 404) throw new SourceError("missing", `GET ${url}: HTTP 404`);
      if (res.status !== 200) throw new SourceError("failed", `GET ${url}: HTTP ${res.status}`);
      const text = res.body.toString("utf8").trim();
      if (text === "") throw new SourceError("missing", `GET ${url}: the VM has no userData`);
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new SourceError("failed", `GET ${url}: userData is not base64`);
      return Buffer.from(text, "base64");
    },
  };
}
