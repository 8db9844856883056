// In the VM: the pod's initdata (written by provisioning to /run/peerpod/initdata) unpacked
// into the files the guest components and kata-agent read, plus its digest.
import path from "node:path";
import { INITDATA_DIGEST_PATH, INITDATA_FILES, type Initdata, parseInitdata } from "../initdata/index.ts";
import { writeFileAtomic } from "./write-files.ts";

/** Writes aa.toml, cdh.toml and policy.rego (those [data] holds) and the digest's raw bytes. */
export async function unpackInitdata(raw: string, root = "/"): Promise<{ initdata: Initdata; written: string[] }> {
  const initdata = parseInitdata(raw);
  const written: string[] = [];
  for (const [name, target] of Object.entries(INITDATA_FILES)) {
    const content = initdata.data[name];
    if (content !== undefined) written.push(await writeFileAtomic(path.join(root, target), content, 0o600));
  }
  written.push(await writeFileAtomic(path.join(root, INITDATA_DIGEST_PATH), initdata.digest, 0o644));
  return { initdata, written };
}
