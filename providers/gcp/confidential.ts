// Which machine families run which confidential VM technology, from Google's confidential VM
// documentation. The API does not say; an unsupported pair fails only at insert, so the start-up
// check and the type choice use this table to say so earlier and in the operator's terms.
import type { ConfidentialType } from "./config.ts";

const FAMILIES: Readonly<Record<ConfidentialType, readonly string[]>> = {
  SEV: ["n2d", "c2d", "c3d", "c4d", "n4d"],
  SEV_SNP: ["n2d", "c3d"],
  TDX: ["c3", "a3"],
};

/** The family of a machine type: n2d for n2d-standard-2, c3 for c3-highcpu-4. */
export function machineFamily(machineType: string): string {
  return machineType.split("-")[0] ?? machineType;
}

export function supportsConfidential(machineType: string, type: ConfidentialType): boolean {
  return FAMILIES[type].includes(machineFamily(machineType));
}

export function familiesFor(type: ConfidentialType): readonly string[] {
  return FAMILIES[type];
}
