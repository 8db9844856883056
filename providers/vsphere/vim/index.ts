// A small vim25 (vSphere Web Services, SOAP at /sdk) client: the calls the vSphere provider
// needs and nothing more.
export { moref, readMoRef, sameRef, showRef, type MoRef } from "./moref.ts";
export {
  retrieveObject,
  retrieveProperties,
  type ObjectContent,
  type ObjectSpec,
  type PropertySpec,
  type TraversalSpec,
} from "./property-collector.ts";
export { findByInventoryPath } from "./search-index.ts";
export { waitForTask, type WaitOptions } from "./task.ts";
export { normalizeThumbprint, type TlsTrust } from "./tls-trust.ts";
export { readBoolean, readNumber, readOptionValues, readRef, readRefs, readString } from "./value-readers.ts";
export { VimClient, type ServiceContent, type UserSession, type VimClientOptions } from "./vim-client.ts";
export { isFault, VimFault, VimTransportError } from "./vim-fault.ts";
export { cloneVm, destroyVm, powerOffVm, powerOnVm, reconfigVm } from "./vm-methods.ts";
export type { CloneSpec, OptionValue, RelocateSpec, VmConfigSpec } from "./vm-specs.ts";
