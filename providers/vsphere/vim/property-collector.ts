// Reading properties: RetrievePropertiesEx, then ContinueRetrievePropertiesEx while the server
// hands back a continuation token. Values stay XML elements; value-readers.ts decodes them.
import { type MoRef, morefXml, readMoRef } from "./moref.ts";
import type { VimClient } from "./vim-client.ts";
import { isFault, type VimFault, vimFaultFrom } from "./vim-fault.ts";
import { child, childrenNamed, childText, type XmlElement } from "./xml-node.ts";
import { el, type Xml } from "./xml-write.ts";

/** Follow `path` from objects of `type`, then apply the named selections again (recursion). */
export interface TraversalSpec {
  readonly name: string;
  readonly type: string;
  readonly path: string;
  readonly skip?: boolean;
  /** Names of traversal specs (in the same object spec) to apply to what was reached. */
  readonly selectSet?: readonly string[];
}

export interface ObjectSpec {
  readonly obj: MoRef;
  /** Leave the starting object itself out of the results. */
  readonly skip?: boolean;
  readonly selectSet?: readonly TraversalSpec[];
}

export interface PropertySpec {
  readonly type: string;
  readonly pathSet: readonly string[];
}

export interface ObjectContent {
  readonly obj: MoRef;
  /** Property path → its <val> element; unset properties are absent. */
  readonly props: ReadonlyMap<string, XmlElement>;
  /** Properties the server could not read, with why. */
  readonly missing: ReadonlyArray<{ readonly path: string; readonly fault: VimFault }>;
}

const PAGE_SIZE = 100;

function traversalXml(spec: TraversalSpec): Xml {
  return el(
    "selectSet",
    [
      el("name", spec.name),
      el("type", spec.type),
      el("path", spec.path),
      el("skip", spec.skip ?? false),
      ...(spec.selectSet ?? []).map((name) => el("selectSet", el("name", name))),
    ],
    { "xsi:type": "TraversalSpec" },
  );
}

function filterSpecXml(props: readonly PropertySpec[], objects: readonly ObjectSpec[]): Xml {
  return el("specSet", [
    ...props.map((p) =>
      el("propSet", [el("type", p.type), el("all", false), ...p.pathSet.map((path) => el("pathSet", path))]),
    ),
    ...objects.map((o) =>
      el("objectSet", [morefXml("obj", o.obj), el("skip", o.skip ?? false), ...(o.selectSet ?? []).map(traversalXml)]),
    ),
  ]);
}

function readObject(node: XmlElement): ObjectContent {
  const obj = readMoRef(child(node, "obj"));
  if (obj === undefined) throw new Error("ObjectContent without obj");
  const props = new Map<string, XmlElement>();
  for (const p of childrenNamed(node, "propSet")) {
    const name = childText(p, "name");
    const val = child(p, "val");
    if (name !== undefined && val !== undefined) props.set(name, val);
  }
  const missing = childrenNamed(node, "missingSet").map((m) => {
    const localized = child(m, "fault");
    return {
      path: childText(m, "path") ?? "",
      fault: vimFaultFrom(
        "RetrievePropertiesEx",
        child(localized, "fault"),
        childText(localized, "localizedMessage") ?? "",
      ),
    };
  });
  return { obj, props, missing };
}

// Servers answer an expired session here with per-property NotAuthenticated faults instead
// of a fault of the call; surfacing it lets the client log in again and retry.
function throwIfUnauthenticated(result: XmlElement): void {
  for (const o of childrenNamed(child(result, "returnval"), "objects")) {
    for (const m of readObject(o).missing) if (isFault(m.fault, "NotAuthenticated")) throw m.fault;
  }
}

/** Every object the specs select, with the requested properties, across all pages. */
export async function retrieveProperties(
  client: VimClient,
  props: readonly PropertySpec[],
  objects: readonly ObjectSpec[],
  signal: AbortSignal,
): Promise<ObjectContent[]> {
  const sc = await client.serviceContent(signal);
  const collector = morefXml("_this", sc.propertyCollector);
  const out: ObjectContent[] = [];
  let page = await client.call(
    "RetrievePropertiesEx",
    [collector, filterSpecXml(props, objects), el("options", el("maxObjects", PAGE_SIZE))],
    signal,
    throwIfUnauthenticated,
  );
  for (;;) {
    const result = child(page, "returnval");
    for (const o of childrenNamed(result, "objects")) out.push(readObject(o));
    const token = childText(result, "token");
    if (token === undefined || token === "") return out;
    page = await client.call(
      "ContinueRetrievePropertiesEx",
      [collector, el("token", token)],
      signal,
      throwIfUnauthenticated,
    );
  }
}

/** One object's properties; undefined when the object no longer exists. */
export async function retrieveObject(
  client: VimClient,
  obj: MoRef,
  pathSet: readonly string[],
  signal: AbortSignal,
): Promise<ObjectContent | undefined> {
  try {
    const found = await retrieveProperties(client, [{ type: obj.type, pathSet }], [{ obj }], signal);
    return found.find((o) => o.obj.value === obj.value);
  } catch (err) {
    if (isFault(err, "ManagedObjectNotFound")) return undefined;
    throw err;
  }
}
