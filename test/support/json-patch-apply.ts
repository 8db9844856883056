// A strict RFC 6902 applier for tests: applies a JSON Patch to a copy of a document, failing
// on anything the API server would refuse (missing parent, bad index, failed test op).

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface PatchOp {
  readonly op: string;
  readonly path: string;
  readonly value?: unknown;
  readonly from?: string;
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`bad JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolveParent(doc: Json, tokens: string[]): { parent: Json; key: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) {
      if (!/^(0|[1-9]\d*)$/.test(token) || Number(token) >= node.length) throw new Error(`no index ${token}`);
      node = node[Number(token)]!;
    } else if (isObject(node)) {
      if (!Object.hasOwn(node, token)) throw new Error(`no member ${token}`);
      node = node[token]!;
    } else {
      throw new Error(`cannot descend into a scalar at ${token}`);
    }
  }
  return { parent: node, key: tokens.at(-1)! };
}

function get(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = resolveParent(doc, tokens);
  if (Array.isArray(parent) && /^\d+$/.test(key) && Number(key) < parent.length) return parent[Number(key)]!;
  if (isObject(parent) && Object.hasOwn(parent, key)) return parent[key]!;
  throw new Error(`nothing at ${pointer}`);
}

function add(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = resolveParent(doc, tokens);
  if (Array.isArray(parent)) {
    const index = key === "-" ? parent.length : Number(key);
    if (!/^(0|[1-9]\d*|-)$/.test(key) || index > parent.length) throw new Error(`bad array index ${key} in ${pointer}`);
    parent.splice(index, 0, value);
  } else if (isObject(parent)) {
    parent[key] = value;
  } else {
    throw new Error(`cannot add below a scalar: ${pointer}`);
  }
  return doc;
}

function remove(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new Error("cannot remove the whole document");
  const { parent, key } = resolveParent(doc, tokens);
  if (Array.isArray(parent)) {
    if (!/^(0|[1-9]\d*)$/.test(key) || Number(key) >= parent.length) throw new Error(`no index ${key} to remove`);
    parent.splice(Number(key), 1);
  } else if (isObject(parent)) {
    if (!Object.hasOwn(parent, key)) throw new Error(`nothing to remove at ${pointer}`);
    delete parent[key];
  } else {
    throw new Error(`cannot remove below a scalar: ${pointer}`);
  }
  return doc;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The document with the patch applied; the input is left untouched. */
export function applyJsonPatch<T>(document: T, patch: readonly PatchOp[]): T {
  let doc = clone(document) as Json;
  for (const op of patch) {
    switch (op.op) {
      case "add":
        doc = add(doc, op.path, clone(op.value) as Json);
        break;
      case "remove":
        doc = remove(doc, op.path);
        break;
      case "replace":
        get(doc, op.path);
        doc = add(remove(doc, op.path), op.path, clone(op.value) as Json);
        break;
      case "move": {
        const value = get(doc, op.from!);
        doc = add(remove(doc, op.from!), op.path, value);
        break;
      }
      case "copy":
        doc = add(doc, op.path, clone(get(doc, op.from!)));
        break;
      case "test":
        if (JSON.stringify(get(doc, op.path)) !== JSON.stringify(op.value))
          throw new Error(`test failed at ${op.path}`);
        break;
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }
  return doc as T;
}
