// A small vim25 (vSphere Web Services, SOAP at /sdk) client: the calls the vSphere provider
// needs and nothing more.
export { type MoRef, moref, readMoRef, sameRef, showRef } from "./moref.ts";
export { placeClone } from "./place-vm.ts";
export {
  type ObjectContent,
  type ObjectSpec,
  type PropertySpec,
  retrieveObject,
  retrieveProperties,
  type TraversalSpec,
} from "./property-collector.ts";
export { findByInventoryPath } from "./search-index.ts";
export { type WaitOptions, waitForTask } from "./task.ts";
export { normalizeThumbprint, type TlsTrust } from "./tls-trust.ts";
export { readBoolean, readNumber, readOptionValues, readRef, readRefs, readString } from "./value-readers.ts";
export { type ServiceContent, type UserSession, VimClient, type VimClientOptions } from "./vim-client.ts";
export { isFault, VimFault, VimTransportError } from "./vim-fault.ts";
export { cloneVm, destroyVm, powerOffVm, powerOnVm, reconfigVm } from "./vm-methods.ts";
export type { CloneSpec, OptionValue, RelocateSpec, VmConfigSpec } from "./vm-specs.ts";
