// Decoders for the property values the provider reads. Each takes the <val> element of a
// DynamicProperty (or undefined when the property was unset).
import { type MoRef, readMoRef } from "./moref.ts";
import { childrenNamed, childText, type XmlElement } from "./xml-node.ts";

export function readString(val: XmlElement | undefined): string | undefined {
  return val?.text;
}

export function readNumber(val: XmlElement | undefined): number | undefined {
  if (val === undefined) return undefined;
  const n = Number(val.text);
  return Number.isFinite(n) ? n : undefined;
}

export function readBoolean(val: XmlElement | undefined): boolean | undefined {
  if (val === undefined) return undefined;
  return val.text === "true" || val.text === "1";
}

export function readRef(val: XmlElement | undefined): MoRef | undefined {
  return readMoRef(val);
}

/** ArrayOfManagedObjectReference: every child is a reference. */
export function readRefs(val: XmlElement | undefined): MoRef[] {
  return (val?.children ?? []).map((c) => readMoRef(c)!);
}

/**
 * ArrayOfOptionValue (extraConfig) as a map. Later entries win: a server may list a key twice
 * after repeated reconfigurations, and the last one set is the one in force.
 */
export function readOptionValues(val: XmlElement | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const option of childrenNamed(val, "OptionValue")) {
    const key = childText(option, "key");
    if (key !== undefined) out.set(key, childText(option, "value") ?? "");
  }
  return out;
}
