// The GCP provider's settings, under the names upstream's peer-pods-cm / peer-pods-secret use.
// Every bad value is reported in one run, naming the variable, the value (never for secrets)
// and what was expected.
import {
  boolField,
  ConfigError,
  enumField,
  InvalidConfigError,
  intField,
  listField,
  mapField,
  stringField,
} from "../../src/config/index.ts";
import { loadConfigPartly } from "../partial-config.ts";
import { IMAGE_EXPECTED, type ImageRef, parseImageRef } from "./image-ref.ts";
import { isLabelKey, isLabelValue, LABEL_PREFIX } from "./ownership.ts";
import { parseServiceAccountKey, type ServiceAccountKey } from "./service-account-key.ts";

export const DEFAULT_COMPUTE_ENDPOINT = "https://compute.googleapis.com";
export const CONFIDENTIAL_TYPES = ["SEV", "SEV_SNP", "TDX"] as const;
export type ConfidentialType = (typeof CONFIDENTIAL_TYPES)[number];

export const gcpConfigSpec = Object.freeze({
  projectId: stringField({ env: "GCP_PROJECT_ID", required: true, description: "Project that holds the peer VMs." }),
  zone: stringField({ env: "GCP_ZONE", required: true, description: "Zone of the peer VMs, e.g. us-central1-a." }),
  network: stringField({
    env: "GCP_NETWORK",
    default: "default",
    description: "VPC network of the peer VMs' interface: a name in GCP_PROJECT_ID or projects/P/global/networks/N.",
  }),
  subnetwork: stringField({
    env: "GCP_SUBNETWORK",
    description:
      "Subnetwork of the peer VMs (needed on custom-mode networks): a name in the zone's region or projects/P/regions/R/subnetworks/S.",
  }),
  imageName: stringField({
    env: "PODVM_IMAGE_NAME",
    required: true,
    description:
      "Pod VM image: a name in GCP_PROJECT_ID, projects/P/global/images/NAME or projects/P/global/images/family/FAMILY (the pod's image annotation, when set, wins).",
  }),
  machineType: stringField({
    env: "GCP_MACHINE_TYPE",
    default: "e2-medium",
    description: "Machine type used when the pod names none and asks for no size.",
  }),
  instanceTypes: listField({
    env: "GCP_INSTANCE_TYPES",
    description:
      "Allowed machine types, comma-separated. A pod's machine_type must be one of them (or GCP_MACHINE_TYPE); a pod asking for vCPUs/memory/GPUs gets the smallest listed type that fits, the next one when the zone has no capacity.",
  }),
  diskType: stringField({
    env: "GCP_DISK_TYPE",
    default: "pd-standard",
    description: "Boot disk type (pd-standard, pd-balanced, pd-ssd, hyperdisk-balanced, ...).",
  }),
  rootVolumeSizeGiB: intField({
    env: "ROOT_VOLUME_SIZE",
    min: 10,
    max: 65536,
    description: "Boot disk size in GiB; unset: the image's own size.",
  }),
  disableCvm: boolField({
    env: "DISABLECVM",
    default: "false",
    description: "Create ordinary VMs instead of confidential VMs (then GCP_CONFIDENTIAL_TYPE is ignored).",
  }),
  confidentialType: enumField({
    env: "GCP_CONFIDENTIAL_TYPE",
    values: CONFIDENTIAL_TYPES,
    description:
      "Confidential VM technology (SEV, SEV_SNP or TDX); required unless DISABLECVM=true, and every machine type must support it.",
  }),
  usePublicIp: boolField({
    env: "USE_PUBLIC_IP",
    default: "false",
    description: "Give each peer VM an external address and reach its forwarder there (workers outside the VPC).",
  }),
  tags: mapField({
    env: "TAGS",
    description:
      "Extra labels k1=v1,k2=v2 on every peer VM and its boot disk (GCP label rules; keys starting peerpods- are reserved).",
  }),
  credentials: stringField({
    env: "GCP_CREDENTIALS",
    secret: true,
    description:
      "Service-account key (the JSON text); tokens come from its token_uri. Unset: Application Default Credentials (workload identity, metadata server).",
  }),
  computeEndpoint: stringField({
    env: "GCP_COMPUTE_ENDPOINT",
    default: DEFAULT_COMPUTE_ENDPOINT,
    description: "Compute Engine endpoint https://HOST[:PORT] (Private Service Connect, sovereign clouds).",
  }),
});

/** Where the Compute Engine client connects: the client takes the three separately. */
export interface ComputeEndpoint {
  readonly protocol: "https";
  readonly host: string;
  readonly port: number;
  /** As configured, for messages. */
  readonly url: string;
}

export interface GcpProviderConfig {
  readonly projectId: string;
  readonly zone: string;
  /** The zone's region (us-central1 for us-central1-a). */
  readonly region: string;
  /** Relative resource path, e.g. projects/p/global/networks/default. */
  readonly network: string;
  readonly subnetwork: string | undefined;
  readonly image: ImageRef;
  readonly machineType: string;
  readonly instanceTypes: readonly string[];
  readonly diskType: string;
  readonly rootVolumeSizeGiB: number | undefined;
  /** undefined: ordinary VMs (DISABLECVM=true). */
  readonly confidentialType: ConfidentialType | undefined;
  readonly usePublicIp: boolean;
  readonly labels: ReadonlyMap<string, string>;
  /** undefined: Application Default Credentials. */
  readonly serviceAccountKey: ServiceAccountKey | undefined;
  readonly endpoint: ComputeEndpoint;
}

// Project ids: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter
// (older projects may carry a domain prefix "example.com:").
const PROJECT_ID = /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const ZONE = /^([a-z]+-[a-z]+\d+)-[a-z]$/;
// Compute Engine resource names (RFC 1035 labels).
export const RESOURCE_NAME = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const NETWORK_PATH = /^projects\/[^/]+\/global\/networks\/[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBNETWORK_PATH = /^projects\/[^/]+\/regions\/[a-z0-9-]+\/subnetworks\/[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const MACHINE_TYPE = /^[a-z][a-z0-9-]{0,62}$/;

export function gcpProviderConfig(env: Readonly<Record<string, string | undefined>>): GcpProviderConfig {
  // The checks below read the raw text, so one run reports every problem, typed or not.
  const { config: c, problems, raw, checked } = loadConfigPartly(gcpConfigSpec, env);
  const bad = (variable: string, value: string, expected: string, secret = false) =>
    problems.push(new ConfigError({ variable, value, expected, source: "env", secret }));

  const projectId = checked(
    "GCP_PROJECT_ID",
    PROJECT_ID,
    "a project id (6-30 lower-case letters, digits and hyphens, starting with a letter)",
  );
  const zone = raw("GCP_ZONE");
  const zoneMatch = zone === undefined ? null : ZONE.exec(zone);
  if (zone !== undefined && zoneMatch === null) bad("GCP_ZONE", zone, "a zone name such as us-central1-a");
  const region = zoneMatch?.[1] ?? "";

  const networkText = raw("GCP_NETWORK") ?? "default";
  let network: string | undefined;
  if (RESOURCE_NAME.test(networkText)) network = `projects/${projectId ?? ""}/global/networks/${networkText}`;
  else if (NETWORK_PATH.test(inProject(networkText, projectId))) network = inProject(networkText, projectId);
  else bad("GCP_NETWORK", networkText, "a network name, global/networks/NAME or projects/PROJECT/global/networks/NAME");

  const subnetText = raw("GCP_SUBNETWORK");
  let subnetwork: string | undefined;
  if (subnetText !== undefined) {
    if (RESOURCE_NAME.test(subnetText))
      subnetwork = `projects/${projectId ?? ""}/regions/${region}/subnetworks/${subnetText}`;
    else if (SUBNETWORK_PATH.test(inProject(subnetText, projectId))) {
      subnetwork = inProject(subnetText, projectId);
      const subnetRegion = subnetwork.split("/")[3];
      if (region !== "" && subnetRegion !== region)
        bad("GCP_SUBNETWORK", subnetText, `a subnetwork in ${region}, the region of GCP_ZONE=${zone ?? ""}`);
    } else
      bad(
        "GCP_SUBNETWORK",
        subnetText,
        "a subnetwork name, regions/REGION/subnetworks/NAME or projects/PROJECT/regions/REGION/subnetworks/NAME",
      );
  }

  const imageText = raw("PODVM_IMAGE_NAME");
  const image = imageText === undefined ? undefined : parseImageRef(imageText, projectId ?? "");
  if (imageText !== undefined && image === undefined) bad("PODVM_IMAGE_NAME", imageText, IMAGE_EXPECTED);

  for (const [variable, value] of [
    ["GCP_MACHINE_TYPE", raw("GCP_MACHINE_TYPE")],
    ["GCP_DISK_TYPE", raw("GCP_DISK_TYPE")],
  ] as const) {
    if (value !== undefined && !MACHINE_TYPE.test(value))
      bad(variable, value, "a Compute Engine type name such as e2-medium or pd-balanced");
  }
  const badTypes = (c?.instanceTypes ?? []).filter((t) => !MACHINE_TYPE.test(t));
  if (badTypes.length > 0)
    bad(
      "GCP_INSTANCE_TYPES",
      raw("GCP_INSTANCE_TYPES") ?? "",
      `machine type names such as n2d-standard-2 (not ${badTypes.map((t) => JSON.stringify(t)).join(", ")})`,
    );

  const disableCvm = c?.disableCvm ?? /^(1|t|true|yes)$/i.test(raw("DISABLECVM") ?? "");
  if (!disableCvm && raw("GCP_CONFIDENTIAL_TYPE") === undefined) {
    problems.push(
      new ConfigError({
        variable: "GCP_CONFIDENTIAL_TYPE",
        expected: `required unless DISABLECVM=true: one of ${CONFIDENTIAL_TYPES.join(", ")}, matching the machine types (e.g. SEV_SNP with n2d-standard-2)`,
        source: "missing",
      }),
    );
  }

  // (When another variable failed to load, the pairs are read here so their problems show too.)
  const labels = c?.tags ?? looseMap(raw("TAGS"));
  const tagsText = raw("TAGS") ?? "";
  for (const [key, value] of labels) {
    if (key.startsWith(LABEL_PREFIX))
      bad(
        "TAGS",
        tagsText,
        `label keys not starting with ${LABEL_PREFIX} (reserved for ownership; found ${JSON.stringify(key)})`,
      );
    else if (!isLabelKey(key))
      bad(
        "TAGS",
        tagsText,
        `label keys of 1-63 lower-case letters, digits, - and _, starting with a letter (not ${JSON.stringify(key)})`,
      );
    else if (!isLabelValue(value))
      bad(
        "TAGS",
        tagsText,
        `label values of at most 63 lower-case letters, digits, - and _ (the value of ${JSON.stringify(key)} is not)`,
      );
  }
  if (labels.size > 60)
    bad("TAGS", tagsText, "at most 60 labels (GCP allows 64 per resource and the provider writes its own)");

  const credText = raw("GCP_CREDENTIALS");
  let serviceAccountKey: ServiceAccountKey | undefined;
  if (credText !== undefined) {
    const parsed = parseServiceAccountKey(credText);
    if (typeof parsed === "string") bad("GCP_CREDENTIALS", credText, parsed, true);
    else serviceAccountKey = parsed;
  }

  const endpointText = raw("GCP_COMPUTE_ENDPOINT") ?? DEFAULT_COMPUTE_ENDPOINT;
  const endpoint = parseComputeEndpoint(endpointText);
  if (endpoint === undefined)
    bad("GCP_COMPUTE_ENDPOINT", endpointText, "an https://HOST[:PORT] URL without path, query or credentials");

  if (problems.length > 0 || c === undefined) throw new InvalidConfigError(problems);
  return {
    projectId: c.projectId,
    zone: c.zone,
    region,
    network: network!,
    subnetwork,
    image: image!,
    machineType: c.machineType,
    instanceTypes: [...new Set(c.instanceTypes ?? [])],
    diskType: c.diskType,
    rootVolumeSizeGiB: c.rootVolumeSizeGiB,
    confidentialType: c.disableCvm ? undefined : c.confidentialType,
    usePublicIp: c.usePublicIp,
    labels,
    serviceAccountKey,
    endpoint: endpoint!,
  };
}

/** Splits https://HOST[:PORT] into what the client takes; undefined when it is not one. */
export function parseComputeEndpoint(text: string): ComputeEndpoint | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (
    url.protocol !== "https:" ||
    url.username !== "" ||
    url.password !== "" ||
    url.search !== "" ||
    url.hash !== "" ||
    (url.pathname !== "/" && url.pathname !== "")
  )
    return undefined;
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (host === "") return undefined;
  return { protocol: "https", host, port: url.port === "" ? 443 : Number(url.port), url: text };
}

function looseMap(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of (text ?? "").split(",")) {
    const eq = item.indexOf("=");
    if (eq > 0) out.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
  }
  return out;
}

/** Full URLs and leading slashes name the same resource as its relative path. */
function stripPrefix(text: string): string {
  return text.replace(/^https:\/\/[^/]+\/compute\/v1\//, "").replace(/^\/+/, "");
}

/** Compute Engine's project-relative forms (global/networks/N, regions/R/subnetworks/S), which
 * upstream's kustomize overlay and provider pass on, made full with the project. */
function inProject(text: string, projectId: string | undefined): string {
  const path = stripPrefix(text);
  return /^(global|regions)\//.test(path) ? `projects/${projectId ?? ""}/${path}` : path;
}
