import { parse, stringify } from "yaml";

/** A file cloud-init writes at boot (`write_files`). */
export interface CloudConfigFile {
  readonly path: string;
  /** Octal mode string as cloud-init wants it, e.g. "0600". */
  readonly permissions: string;
  readonly content: string;
}

/**
 * Builds cloud-init user-data. Contents are base64-encoded so no value can break the YAML,
 * whatever characters keys and certificates hold. One format for every provider.
 */
export function buildCloudConfig(files: readonly CloudConfigFile[]): string {
  const doc = {
    write_files: files.map((f) => ({
      path: f.path,
      permissions: f.permissions,
      owner: "root:root",
      encoding: "b64",
      content: Buffer.from(f.content, "utf8").toString("base64"),
    })),
  };
  return `#cloud-config\n${stringify(doc)}`;
}

/** Reads back the files of a user-data document (what cloud-init would write). */
export function parseCloudConfig(userData: string): CloudConfigFile[] {
  if (!userData.startsWith("#cloud-config")) throw new Error("user-data is not a #cloud-config document");
  const doc = parse(userData) as { write_files?: unknown } | null;
  const list = doc?.write_files;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new Error("user-data: write_files is not a list");
  return list.map((entry: Record<string, unknown>, i) => {
    if (typeof entry.path !== "string") throw new Error(`user-data: write_files[${i}] has no path`);
    const raw = typeof entry.content === "string" ? entry.content : "";
    const enc = entry.encoding;
    const content = enc === "b64" || enc === "base64" ? Buffer.from(raw, "base64").toString("utf8") : raw;
    return {
      path: entry.path,
      permissions: typeof entry.permissions === "string" ? entry.permissions : "0644",
      content,
    };
  });
}
