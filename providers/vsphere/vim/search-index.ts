// Inventory lookup by path: "DC0/vm/folder/name", from the root folder, one name per level.
// Names are given as the server stores them ("/" inside a name is already "%2f" there).
import { type MoRef, morefXml, readMoRef } from "./moref.ts";
import type { VimClient } from "./vim-client.ts";
import { child } from "./xml-node.ts";
import { el } from "./xml-write.ts";

/** The object at that inventory path, or undefined when there is none. */
export async function findByInventoryPath(
  client: VimClient,
  inventoryPath: string,
  signal: AbortSignal,
): Promise<MoRef | undefined> {
  const sc = await client.serviceContent(signal);
  const path = inventoryPath.replace(/^\/+/, "");
  const res = await client.call(
    "FindByInventoryPath",
    [morefXml("_this", sc.searchIndex), el("inventoryPath", path)],
    signal,
  );
  return readMoRef(child(res, "returnval"));
}
