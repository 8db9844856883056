// `peerpod-ctl image upload libvirt`: a peer-pod image file becomes a volume of a storage pool,
// through the project's libvirt client (volume create, then a stream upload), so the host
// needs nothing but libvirtd. The format and virtual size are read from the file's own header
// (qcow2), else it is taken as raw. A failed upload removes the half-made volume.
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import { ErrorCode, hasCode, isNotFound, type LibvirtClient } from "./rpc/index.ts";
import { xmlEscape } from "./xml-text.ts";

export interface DiskImageFacts {
  readonly format: "qcow2" | "raw";
  readonly virtualSize: bigint;
  readonly fileSize: bigint;
}

const QCOW2_MAGIC = 0x514649fb;

/** qcow2 (magic "QFI\xfb", virtual size at offset 24) or raw. */
export async function diskImageFacts(file: string): Promise<DiskImageFacts> {
  const fh = await fs.open(file, "r");
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${file}: not a regular file`);
    const head = Buffer.alloc(32);
    const { bytesRead } = await fh.read(head, 0, 32, 0);
    if (bytesRead >= 32 && head.readUInt32BE(0) === QCOW2_MAGIC)
      return { format: "qcow2", virtualSize: head.readBigUInt64BE(24), fileSize: BigInt(st.size) };
    if (st.size === 0) throw new Error(`${file}: empty`);
    return { format: "raw", virtualSize: BigInt(st.size), fileSize: BigInt(st.size) };
  } finally {
    await fh.close();
  }
}

export interface UploadImageRequest {
  readonly pool: string;
  readonly name: string;
  readonly file: string;
  readonly signal?: AbortSignal;
  readonly progress?: (sent: number, total: number) => void;
}

export async function uploadImage(client: LibvirtClient, r: UploadImageRequest): Promise<DiskImageFacts> {
  const facts = await diskImageFacts(r.file);
  let pool;
  try {
    pool = await client.lookupStoragePoolByName(r.pool, r.signal);
  } catch (err) {
    if (isNotFound(err)) throw new Error(`--pool ${r.pool}: no storage pool of that name (virsh pool-list --all)`);
    throw err;
  }
  const xml = `<volume><name>${xmlEscape(r.name)}</name><capacity unit='bytes'>${facts.virtualSize}</capacity><target><format type='${facts.format}'/></target></volume>`;
  let vol;
  try {
    vol = await client.createStorageVolXml(pool, xml, 0, r.signal);
  } catch (err) {
    if (hasCode(err, ErrorCode.storageVolExists))
      throw new Error(
        `--name ${r.name}: pool ${r.pool} already has a volume of that name (virsh vol-delete --pool ${r.pool} ${r.name}, or pick another name)`,
      );
    throw err;
  }
  try {
    let sent = 0;
    const total = Number(facts.fileSize);
    const chunks = createReadStream(r.file, { highWaterMark: 1024 * 1024 });
    const counted = (async function* () {
      for await (const c of chunks) {
        sent += (c as Buffer).length;
        r.progress?.(sent, total);
        yield c as Buffer;
      }
    })();
    await client.uploadStorageVol(vol, counted, { length: facts.fileSize, signal: r.signal });
  } catch (err) {
    await client.deleteStorageVol(vol, 0).catch(() => undefined);
    throw err;
  }
  return facts;
}
