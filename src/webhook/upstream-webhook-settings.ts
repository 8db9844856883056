// Upstream's webhook variables that ours does not take as settings of its own. A peer-pods
// deployment brought from the Go original may still carry them; each is honoured, refused or
// warned about out loud, never ignored in silence.
//  - POD_VM_EXTENDED_RESOURCE: the resource every peer pod takes one of. The daemon advertises
//    kata.peerpods.io/vm (PEERPODS_LIMIT_PER_NODE); a webhook asking for another name would make
//    every peer pod unschedulable, so any other value stops start-up.
//  - POD_VM_INSTANCE_TYPE: upstream's webhook wrote it into every peer pod as the annotation
//    kata.peerpods.io/instance_type, which nothing reads any more. Ours sizes the VM from the pod's
//    resources and passes a user's peerpods.io/instance-type on; the daemon's PODVM_INSTANCE_TYPE
//    is the default type. Set to anything but upstream's default it is warned about.
import { ConfigError, InvalidConfigError } from "../config/index.ts";
import { INSTANCE_TYPE_KEY, PEERPOD_VM_RESOURCE } from "./peer-pod-names.ts";

/** Upstream webhook's default for POD_VM_INSTANCE_TYPE: not worth a warning. */
const UPSTREAM_INSTANCE_TYPE_DEFAULT = "t2.small";

/**
 * Warnings for upstream webhook variables this webhook does not use. Throws InvalidConfigError
 * for one whose meaning it cannot give (POD_VM_EXTENDED_RESOURCE naming another resource).
 */
export function upstreamWebhookWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const resource = (env.POD_VM_EXTENDED_RESOURCE ?? "").trim();
  if (resource !== "" && resource !== PEERPOD_VM_RESOURCE)
    throw new InvalidConfigError([
      new ConfigError({
        variable: "POD_VM_EXTENDED_RESOURCE",
        value: resource,
        expected: `${PEERPOD_VM_RESOURCE} or unset: the daemon advertises ${PEERPOD_VM_RESOURCE} as each node's peer-pod capacity, and pods asking for another resource would never be scheduled`,
        source: "env",
      }),
    ]);
  const warnings: string[] = [];
  const instanceType = (env.POD_VM_INSTANCE_TYPE ?? "").trim();
  if (instanceType !== "" && instanceType !== UPSTREAM_INSTANCE_TYPE_DEFAULT)
    warnings.push(
      `POD_VM_INSTANCE_TYPE=${JSON.stringify(instanceType)} is not used: the VM is sized from the pod's CPU and memory, a pod names its type with the ${INSTANCE_TYPE_KEY} label or annotation, and the daemon's PODVM_INSTANCE_TYPE is the default type`,
    );
  return warnings;
}
