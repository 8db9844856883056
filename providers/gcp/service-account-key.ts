// A service-account key as Google issues it (the JSON file). Only what the JWT-bearer flow
// needs is kept; the private key never leaves this object except to sign.
import { createPrivateKey } from "node:crypto";

export const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";

export interface ServiceAccountKey {
  readonly clientEmail: string;
  readonly privateKey: string;
  readonly privateKeyId: string | undefined;
  /** Where tokens are asked for: the key's token_uri (private and sovereign endpoints). */
  readonly tokenUri: string;
  readonly projectId: string | undefined;
  readonly universeDomain: string | undefined;
}

/** The key, or a description of what is wrong with it (never quoting the key). */
export function parseServiceAccountKey(text: string): ServiceAccountKey | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "a service-account key in JSON (the text of the key file, not its path)";
  }
  if (typeof json !== "object" || json === null) return "a service-account key in JSON (an object)";
  const o = json as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" && o[k] !== "" ? (o[k] as string) : undefined);
  if (str("type") !== "service_account")
    return `a key of type "service_account" (found type ${JSON.stringify(o.type ?? null)}; user and external-account credentials go through Application Default Credentials)`;
  const clientEmail = str("client_email");
  const privateKey = str("private_key");
  if (clientEmail === undefined || privateKey === undefined)
    return "a service-account key with client_email and private_key";
  try {
    createPrivateKey(privateKey);
  } catch {
    return `a service-account key whose private_key is a PEM private key (the key of ${clientEmail} is not)`;
  }
  const tokenUri = str("token_uri") ?? DEFAULT_TOKEN_URI;
  let url: URL | undefined;
  try {
    url = new URL(tokenUri);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== "https:")
    return `a service-account key whose token_uri is an https:// URL (found ${JSON.stringify(tokenUri)})`;
  return {
    clientEmail,
    privateKey,
    privateKeyId: str("private_key_id"),
    tokenUri,
    projectId: str("project_id"),
    universeDomain: str("universe_domain"),
  };
}
