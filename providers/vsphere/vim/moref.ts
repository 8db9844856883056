// Managed object references: the (type, value) pairs vim25 names every server object by.

import type { XmlElement } from "./xml-node.ts";
import { el, type Xml } from "./xml-write.ts";

export interface MoRef {
  readonly type: string;
  readonly value: string;
}

export function moref(type: string, value: string): MoRef {
  return { type, value };
}

/** Writes `<name type="T">value</name>`. */
export function morefXml(name: string, ref: MoRef): Xml {
  return el(name, ref.value, { type: ref.type });
}

/** Reads a reference element; undefined when the element is absent. */
export function readMoRef(node: XmlElement | undefined): MoRef | undefined {
  if (node === undefined) return undefined;
  const type = node.attrs["type"];
  if (type === undefined || node.text === "") throw new Error(`<${node.name}> is not a managed object reference`);
  return { type, value: node.text };
}

export function sameRef(a: MoRef | undefined, b: MoRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.type === b.type && a.value === b.value;
}

export function showRef(ref: MoRef): string {
  return `${ref.type}:${ref.value}`;
}
