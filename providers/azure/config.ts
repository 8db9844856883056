// The Azure provider's settings, under the names upstream's peer-pods-cm / peer-pods-secret use.
import fs from "node:fs";
import {
  boolField,
  ConfigError,
  InvalidConfigError,
  intField,
  listField,
  mapField,
  stringField,
  type ValueSource,
} from "../../src/config/index.ts";
import { loadConfigPartly } from "../partial-config.ts";
import {
  IMAGE_ID_EXPECTED,
  type ImageRef,
  type NsgRef,
  parseImageId,
  parseNsgId,
  parseSubnetId,
  type SubnetRef,
} from "./resource-id.ts";
import { parseSshPublicKey } from "./ssh-key.ts";

export const DEFAULT_RESOURCE_MANAGER_ENDPOINT = "https://management.azure.com";

export const azureConfigSpec = Object.freeze({
  subscriptionId: stringField({
    env: "AZURE_SUBSCRIPTION_ID",
    required: true,
    description: "Subscription (a GUID) that holds the peer VMs.",
  }),
  region: stringField({
    env: "AZURE_REGION",
    required: true,
    description: "Region (location) of the peer VMs, e.g. eastus.",
  }),
  resourceGroup: stringField({
    env: "AZURE_RESOURCE_GROUP",
    required: true,
    description: "Resource group that receives the peer VMs, their NICs and disks.",
  }),
  subnetId: stringField({
    env: "AZURE_SUBNET_ID",
    required: true,
    description:
      "Subnet id (/subscriptions/…/virtualNetworks/VNET/subnets/SUBNET) the peer VMs' NICs join; it must reach the worker nodes.",
  }),
  imageId: stringField({
    env: "AZURE_IMAGE_ID",
    required: true,
    description:
      "Pod VM image: a managed image, gallery image (version) id, or /CommunityGalleries/… or /SharedGalleries/… id.",
  }),
  nsgId: stringField({
    env: "AZURE_NSG_ID",
    description:
      "Network security group id set on each NIC; it must let the worker nodes reach port 15150 (forwarder) and VXLAN.",
  }),
  instanceSize: stringField({
    env: "AZURE_INSTANCE_SIZE",
    default: "Standard_DC2as_v5",
    description: "VM size used when the pod names none and asks for no size.",
  }),
  instanceSizes: listField({
    env: "AZURE_INSTANCE_SIZES",
    description:
      "Allowed VM sizes (comma-separated); a pod's vCPU/memory request picks the smallest that fits, falling back to the next on capacity errors.",
  }),
  sshUsername: stringField({
    env: "SSH_USERNAME",
    default: "peerpod",
    description: "Admin user of the peer VMs (password login is always disabled).",
  }),
  sshKeyPath: stringField({
    env: "SSH_KEY_PATH",
    description:
      "OpenSSH public key file for the admin user; unset: a throwaway key whose private half is never stored (no SSH access).",
  }),
  disableCvm: boolField({
    env: "DISABLECVM",
    default: "false",
    description: "Create ordinary VMs instead of confidential VMs (vTPM, secure boot, guest-state encryption).",
  }),
  enableSecureBoot: boolField({
    env: "ENABLE_SECURE_BOOT",
    default: "false",
    description:
      "Turn UEFI secure boot on in confidential VMs (upstream's default: off; vTPM is always on). Ordinary VMs (DISABLECVM) get no UEFI security profile.",
  }),
  rootVolumeSizeGiB: intField({
    env: "ROOT_VOLUME_SIZE",
    default: "0",
    min: 0,
    max: 4095,
    description: "OS disk size of the peer VMs in GiB; 0: the image's size (a size below it is refused by Azure).",
  }),
  tags: mapField({
    env: "TAGS",
    description: "Extra tags k1=v1,k2=v2 on every VM, NIC, disk and public IP (keys starting peerpods. are reserved).",
  }),
  usePublicIp: boolField({
    env: "USE_PUBLIC_IP",
    default: "false",
    description: "Give each peer VM a public IP and reach its forwarder there (development only).",
  }),
  clientId: stringField({
    env: "AZURE_CLIENT_ID",
    description:
      "Application (client) id for a client secret or workload identity; with neither, the user-assigned managed identity to use.",
  }),
  clientSecret: stringField({
    env: "AZURE_CLIENT_SECRET",
    secret: true,
    description: "Client secret of the AZURE_CLIENT_ID application (peer-pods-secret).",
  }),
  tenantId: stringField({
    env: "AZURE_TENANT_ID",
    description: "Directory (tenant) id for a client secret or workload identity.",
  }),
  federatedTokenFile: stringField({
    env: "AZURE_FEDERATED_TOKEN_FILE",
    description:
      "Workload identity: the projected service-account token file (set by the Azure workload identity webhook).",
  }),
  authorityHost: stringField({
    env: "AZURE_AUTHORITY_HOST",
    description:
      "Microsoft Entra authority for sovereign clouds (e.g. https://login.microsoftonline.us); when set, instance discovery is disabled.",
  }),
  resourceManagerEndpoint: stringField({
    env: "AZURE_RESOURCE_MANAGER_ENDPOINT",
    default: DEFAULT_RESOURCE_MANAGER_ENDPOINT,
    description: "Azure Resource Manager endpoint (sovereign clouds, Azure Stack); tokens are asked for its origin.",
  }),
});

/** How the provider signs in to Azure. */
export type AzureCredentialConfig =
  | {
      readonly kind: "client-secret";
      readonly tenantId: string;
      readonly clientId: string;
      readonly clientSecret: string;
    }
  | {
      readonly kind: "workload-identity";
      readonly tenantId: string;
      readonly clientId: string;
      readonly tokenFile: string;
    }
  | { readonly kind: "managed-identity"; readonly clientId: string | undefined };

export interface AzureProviderConfig {
  readonly subscriptionId: string;
  readonly region: string;
  readonly resourceGroup: string;
  readonly subnet: SubnetRef;
  readonly image: ImageRef;
  readonly nsg: NsgRef | undefined;
  readonly instanceSize: string;
  readonly instanceSizes: readonly string[];
  readonly sshUsername: string;
  /** The operator's key; undefined: a throwaway key is made at start. */
  readonly sshPublicKey: string | undefined;
  readonly confidentialVm: boolean;
  /** UEFI secure boot of confidential VMs (ENABLE_SECURE_BOOT). */
  readonly secureBoot: boolean;
  /** OS disk size; undefined: the image's (ROOT_VOLUME_SIZE=0). */
  readonly osDiskSizeGiB: number | undefined;
  readonly tags: ReadonlyMap<string, string>;
  readonly usePublicIp: boolean;
  readonly credential: AzureCredentialConfig;
  /** Undefined: the public cloud's authority, with instance discovery. */
  readonly authorityHost: string | undefined;
  readonly resourceManagerEndpoint: string;
}

/** Tag keys the provider writes itself; TAGS may not use this prefix. */
export const RESERVED_TAG_PREFIX = "peerpods.";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REGION = /^[a-z][a-z0-9]*$/i;
// Letters, digits, '-', '_', '.', '(' and ')', up to 90 characters, not ending in '.'.
const RESOURCE_GROUP = /^[\w().-]{0,89}[\w()-]$/;
// Linux user names Azure accepts; it also refuses a list of common names (root, admin, ...).
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const REFUSED_USER_NAMES: ReadonlySet<string> = new Set([
  "root",
  "admin",
  "administrator",
  "user",
  "guest",
  "test",
  "sys",
  "adm",
  "backup",
  "console",
  "owner",
  "server",
  "sql",
  "support",
]);
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

export function azureProviderConfig(env: Readonly<Record<string, string | undefined>>): AzureProviderConfig {
  // The checks below read the raw text, so one run reports every problem, typed or not.
  const { config: c, problems, raw, checked, parsed } = loadConfigPartly(azureConfigSpec, env);
  const bad = (variable: string, value: string, expected: string, source: ValueSource = "env") =>
    problems.push(new ConfigError({ variable, value, expected, source }));
  const missing = (variable: string, why: string) =>
    problems.push(new ConfigError({ variable, expected: `required ${why}`, source: "missing" }));

  checked("AZURE_SUBSCRIPTION_ID", GUID, "a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)");
  checked("AZURE_REGION", REGION, "a region name such as eastus or westeurope");
  checked(
    "AZURE_RESOURCE_GROUP",
    RESOURCE_GROUP,
    "a resource group name (letters, digits, - _ . ( ), at most 90, not ending in '.')",
  );

  const subnet = parsed(
    "AZURE_SUBNET_ID",
    parseSubnetId,
    "a subnet id /subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET",
  );
  const image = parsed("AZURE_IMAGE_ID", parseImageId, IMAGE_ID_EXPECTED);
  const nsg = parsed(
    "AZURE_NSG_ID",
    parseNsgId,
    "a network security group id /subscriptions/…/providers/Microsoft.Network/networkSecurityGroups/NAME",
  );

  const sshUsername = raw("SSH_USERNAME");
  if (sshUsername !== undefined && (!USER_NAME.test(sshUsername) || REFUSED_USER_NAMES.has(sshUsername))) {
    bad(
      "SSH_USERNAME",
      sshUsername,
      "a Linux user name Azure accepts (lower-case letters, digits, - and _; not root, admin or another reserved name)",
    );
  }
  let sshPublicKey: string | undefined;
  const sshKeyPath = raw("SSH_KEY_PATH");
  if (sshKeyPath !== undefined) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(sshKeyPath, "utf8");
    } catch (err) {
      bad(
        "SSH_KEY_PATH",
        sshKeyPath,
        `a readable OpenSSH public key file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    if (text !== undefined) {
      sshPublicKey = parseSshPublicKey(text);
      if (sshPublicKey === undefined)
        bad(
          "SSH_KEY_PATH",
          sshKeyPath,
          "a file holding an OpenSSH public key line (ssh-rsa, ssh-ed25519 or ecdsa-sha2-…), not a private key",
        );
    }
  }

  const tags = c?.tags ?? new Map<string, string>();
  const tagsText = raw("TAGS") ?? "";
  for (const [key, value] of tags) {
    if (key.toLowerCase().startsWith(RESERVED_TAG_PREFIX))
      bad(
        "TAGS",
        tagsText,
        `tags whose keys do not start with ${RESERVED_TAG_PREFIX} (reserved for ownership; found ${JSON.stringify(key)})`,
      );
    else if (key.length > 512 || TAG_NAME_FORBIDDEN.test(key))
      bad(
        "TAGS",
        tagsText,
        `tag names of at most 512 characters without < > % & \\ ? / (found ${JSON.stringify(key)})`,
      );
    else if (value.length > 256)
      bad("TAGS", tagsText, `tag values of at most 256 characters (the value of ${JSON.stringify(key)} is longer)`);
  }
  if (tags.size > 45)
    bad("TAGS", tagsText, "at most 45 tags (Azure allows 50 per resource and the provider writes its own)");

  const armText = raw("AZURE_RESOURCE_MANAGER_ENDPOINT");
  const resourceManagerEndpoint =
    armText === undefined
      ? DEFAULT_RESOURCE_MANAGER_ENDPOINT
      : checkHttpsUrl(armText, "AZURE_RESOURCE_MANAGER_ENDPOINT", bad);
  const authorityText = raw("AZURE_AUTHORITY_HOST");
  const authorityHost =
    authorityText === undefined ? undefined : checkHttpsUrl(authorityText, "AZURE_AUTHORITY_HOST", bad);

  const clientId = raw("AZURE_CLIENT_ID");
  const clientSecret = raw("AZURE_CLIENT_SECRET");
  const tenantId = raw("AZURE_TENANT_ID");
  const tokenFile = raw("AZURE_FEDERATED_TOKEN_FILE");
  let credential: AzureCredentialConfig | undefined;
  if (clientSecret !== undefined) {
    if (clientId === undefined)
      missing("AZURE_CLIENT_ID", "when AZURE_CLIENT_SECRET is set (the application the secret belongs to)");
    if (tenantId === undefined)
      missing("AZURE_TENANT_ID", "when AZURE_CLIENT_SECRET is set (the application's directory)");
    if (clientId !== undefined && tenantId !== undefined)
      credential = { kind: "client-secret", tenantId, clientId, clientSecret };
  } else if (tokenFile !== undefined) {
    if (clientId === undefined)
      missing("AZURE_CLIENT_ID", "with AZURE_FEDERATED_TOKEN_FILE (workload identity: the federated application)");
    if (tenantId === undefined)
      missing("AZURE_TENANT_ID", "with AZURE_FEDERATED_TOKEN_FILE (workload identity: the application's directory)");
    if (clientId !== undefined && tenantId !== undefined)
      credential = { kind: "workload-identity", tenantId, clientId, tokenFile };
  } else {
    credential = { kind: "managed-identity", clientId };
  }
  if (tenantId !== undefined && !GUID.test(tenantId) && !/^[a-z0-9.-]+$/i.test(tenantId))
    bad("AZURE_TENANT_ID", tenantId, "a tenant id (a GUID) or domain name");

  if (problems.length > 0 || c === undefined) throw new InvalidConfigError(problems);
  return {
    subscriptionId: c.subscriptionId,
    region: c.region,
    resourceGroup: c.resourceGroup,
    subnet: subnet!,
    image: image!,
    nsg,
    instanceSize: c.instanceSize,
    instanceSizes: c.instanceSizes ?? [],
    sshUsername: c.sshUsername,
    sshPublicKey,
    confidentialVm: !c.disableCvm,
    secureBoot: c.enableSecureBoot,
    osDiskSizeGiB: c.rootVolumeSizeGiB === 0 ? undefined : c.rootVolumeSizeGiB,
    tags,
    usePublicIp: c.usePublicIp,
    credential: credential!,
    authorityHost,
    resourceManagerEndpoint: resourceManagerEndpoint ?? DEFAULT_RESOURCE_MANAGER_ENDPOINT,
  };
}

/** The URL without a trailing slash, or undefined after reporting why it is not an https URL. */
function checkHttpsUrl(
  text: string,
  variable: string,
  bad: (variable: string, value: string, expected: string) => void,
): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    bad(variable, text, "an https:// URL");
    return undefined;
  }
  if (url.protocol !== "https:" || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    bad(
      variable,
      text,
      "an https:// URL without query, fragment or credentials (Azure refuses tokens over plain http)",
    );
    return undefined;
  }
  return url.href.replace(/\/+$/, "");
}
