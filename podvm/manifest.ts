// podvm.json: what an image build made (each output's sha256 and size) and from what (the
// Debian archive's date, kernel, agent and forwarder versions, SOURCE_DATE_EPOCH).
//   node podvm/manifest.ts --out DIR --debian-date D --kernel V --kata-agent V --forwarder FILE --source-date-epoch N
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";

const OUTPUTS = ["podvm.raw", "podvm.qcow2", "podvm.vhd", "podvm.ova"];

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

const { values: v } = parseArgs({
  options: {
    out: { type: "string" },
    "debian-date": { type: "string", default: "" },
    kernel: { type: "string", default: "" },
    "kata-agent": { type: "string", default: "" },
    forwarder: { type: "string" },
    "source-date-epoch": { type: "string", default: "" },
  },
});
if (v.out === undefined || v.forwarder === undefined)
  throw new Error("usage: manifest.ts --out DIR --forwarder FILE ...");
const files: Record<string, { sha256: string; size: number }> = {};
for (const name of OUTPUTS) {
  const file = path.join(v.out, name);
  const st = await fs.stat(file).catch(() => undefined);
  if (st !== undefined) files[name] = { sha256: await sha256(file), size: st.size };
}
const pkg = JSON.parse(await fs.readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
const debianDate = v["debian-date"] === "" ? null : new Date(v["debian-date"]).toISOString();
const manifest = {
  distribution: "Debian 12 (bookworm)",
  debianArchiveDate: debianDate,
  kernel: v.kernel,
  kataAgent: v["kata-agent"],
  forwarder: { version: pkg.version, sha256: await sha256(v.forwarder), size: (await fs.stat(v.forwarder)).size },
  boot: "uefi",
  sourceDateEpoch: Number(v["source-date-epoch"]),
  files,
};
process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
