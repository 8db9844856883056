// Registry credentials in the format the guest's image puller reads: containers-auth.json(5),
// `{"auths": {"<registry>": {"auth": "<base64 user:password>"}}}`. Built from Kubernetes pull
// secrets of both types the kubelet honours:
//   kubernetes.io/dockerconfigjson  key .dockerconfigjson = {"auths": {registry: entry}}
//   kubernetes.io/dockercfg         key .dockercfg        = {registry: entry}   (legacy)
// An entry carries `auth`, or `username` + `password`, and may carry `identitytoken`.

export const DOCKER_CONFIG_JSON_TYPE = "kubernetes.io/dockerconfigjson";
export const DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson";
export const DOCKERCFG_TYPE = "kubernetes.io/dockercfg";
export const DOCKERCFG_KEY = ".dockercfg";

/** One registry's credentials as containers-auth.json holds them. */
export interface RegistryCredential {
  readonly auth?: string;
  readonly identitytoken?: string;
}

/** A containers-auth.json document. */
export interface AuthFile {
  readonly auths: Readonly<Record<string, RegistryCredential>>;
}

/** A pull secret as the Kubernetes API returns it: `data` values are base64. */
export interface PullSecret {
  readonly name: string;
  readonly type?: string | undefined;
  readonly data?: Readonly<Record<string, string>> | undefined;
}

/** Why a secret gave no credentials; the message names no secret bytes. */
export class PullSecretError extends Error {
  override readonly name = "PullSecretError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// One entry; throws a PullSecretError naming the registry (never the values) when it holds no
// usable credential.
function credentialOf(registry: string, entry: unknown): RegistryCredential {
  if (!isRecord(entry)) throw new PullSecretError(`the entry for registry "${registry}" is not an object`);
  const { auth, username, password, identitytoken } = entry;
  const out: { auth?: string; identitytoken?: string } = {};
  if (typeof auth === "string" && auth !== "") {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    if (!decoded.includes(":"))
      throw new PullSecretError(`the "auth" of registry "${registry}" is not base64 of user:password`);
    out.auth = auth;
  } else if (typeof username === "string" && username !== "" && typeof password === "string") {
    out.auth = Buffer.from(`${username}:${password}`, "utf8").toString("base64");
  }
  if (typeof identitytoken === "string" && identitytoken !== "") out.identitytoken = identitytoken;
  if (out.auth === undefined && out.identitytoken === undefined) {
    throw new PullSecretError(
      `the entry for registry "${registry}" has neither "auth", "username"/"password" nor "identitytoken"`,
    );
  }
  return out;
}

function decodeJson(secret: PullSecret, key: string): unknown {
  const encoded = secret.data?.[key];
  if (encoded === undefined || encoded === "") throw new PullSecretError(`it has no data key "${key}"`);
  try {
    return JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as unknown;
  } catch {
    throw new PullSecretError(`its "${key}" is not base64-encoded JSON`);
  }
}

/** The registries and credentials one pull secret holds. Throws PullSecretError when the secret
 * is of another type or malformed; the message says what is wrong without quoting its contents. */
export function credentialsOfSecret(secret: PullSecret): Map<string, RegistryCredential> {
  let registries: unknown;
  if (secret.type === DOCKER_CONFIG_JSON_TYPE) {
    const doc = decodeJson(secret, DOCKER_CONFIG_JSON_KEY);
    if (!isRecord(doc) || !isRecord(doc.auths))
      throw new PullSecretError(`its "${DOCKER_CONFIG_JSON_KEY}" has no "auths" object`);
    registries = doc.auths;
  } else if (secret.type === DOCKERCFG_TYPE) {
    registries = decodeJson(secret, DOCKERCFG_KEY);
    if (!isRecord(registries)) throw new PullSecretError(`its "${DOCKERCFG_KEY}" is not an object of registries`);
  } else {
    throw new PullSecretError(
      `its type is "${secret.type ?? ""}", expected ${DOCKER_CONFIG_JSON_TYPE} or ${DOCKERCFG_TYPE}`,
    );
  }
  const out = new Map<string, RegistryCredential>();
  for (const [registry, entry] of Object.entries(registries as Record<string, unknown>)) {
    out.set(registry, credentialOf(registry, entry));
  }
  return out;
}

/** Merges credentials in the order given: the first source that names a registry wins, as the
 * kubelet tries the pod's secrets before its service account's. */
export function mergeCredentials(sources: Iterable<Map<string, RegistryCredential>>): AuthFile {
  const auths: Record<string, RegistryCredential> = {};
  for (const source of sources) {
    for (const [registry, credential] of source) {
      if (!Object.hasOwn(auths, registry)) auths[registry] = credential;
    }
  }
  return { auths };
}

/** Checks a containers-auth.json document (REGISTRY_AUTH_FILE); throws naming what is wrong. */
export function parseAuthFile(text: string): AuthFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch {
    throw new Error("is not JSON");
  }
  if (!isRecord(doc) || !isRecord(doc.auths)) throw new Error('has no "auths" object (containers-auth.json format)');
  const auths: Record<string, RegistryCredential> = {};
  for (const [registry, entry] of Object.entries(doc.auths)) auths[registry] = credentialOf(registry, entry);
  return { auths };
}
