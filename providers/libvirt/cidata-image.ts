// The NoCloud seed volume a peer VM reads at boot, built in memory: a FAT12 file system
// labelled CIDATA holding `user-data` and `meta-data` (cloud-init's NoCloud data source reads
// exactly this; so does the test image's init). No mkfs or ISO tool needed on the worker.

const SECTOR = 512;
const ROOT_ENTRIES = 64;
const DIR_ENTRY = 32;
const FAT12_MAX_CLUSTERS = 4084;
const LABEL = "CIDATA";
/** 2024-01-01 00:00: a fixed timestamp keeps images byte-for-byte reproducible. */
const FAT_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1;

export interface SeedFile {
  /** Long file name (user-data, meta-data, network-config). */
  readonly name: string;
  readonly content: Uint8Array;
}

/** The NoCloud files for a VM: its user-data and a meta-data naming instance and host. */
export function noCloudFiles(instanceId: string, hostname: string, userData: string): SeedFile[] {
  const meta = `instance-id: ${instanceId}\nlocal-hostname: ${hostname}\n`;
  return [
    { name: "meta-data", content: Buffer.from(meta, "utf8") },
    { name: "user-data", content: Buffer.from(userData, "utf8") },
  ];
}

export function buildCidataImage(files: readonly SeedFile[], volumeId = 0x50504f44): Buffer {
  const names = new Set<string>();
  for (const f of files) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(f.name))
      throw new RangeError(`seed file name ${JSON.stringify(f.name)}: letters, digits, '.', '_' and '-' only`);
    if (names.has(f.name.toLowerCase())) throw new RangeError(`seed file ${f.name} given twice`);
    names.add(f.name.toLowerCase());
  }
  const used = 1 + files.reduce((n, f) => n + lfnEntries(f.name) + 1, 0);
  if (used > ROOT_ENTRIES) throw new RangeError(`too many seed files for one root directory (${used} entries)`);

  // Cluster size grows with the content so FAT12's cluster limit is never crossed.
  const dataBytes = files.reduce((n, f) => n + f.content.length, 0);
  let sectorsPerCluster = 1;
  while (clustersFor(files, sectorsPerCluster) + 16 > FAT12_MAX_CLUSTERS) {
    sectorsPerCluster *= 2;
    if (sectorsPerCluster > 64)
      throw new RangeError(`seed data of ${dataBytes} bytes is too large for the cidata volume`);
  }
  const clusterBytes = sectorsPerCluster * SECTOR;
  // Room for the files plus slack, at least 1 MiB like common seed images.
  const dataClusters = Math.min(
    FAT12_MAX_CLUSTERS,
    Math.max(clustersFor(files, sectorsPerCluster) + 16, Math.floor((1024 * 1024) / clusterBytes)),
  );
  const fatSectors = Math.ceil(Math.ceil(((dataClusters + 2) * 3) / 2) / SECTOR);
  const rootSectors = (ROOT_ENTRIES * DIR_ENTRY) / SECTOR;
  const reserved = 1;
  const dataStart = reserved + 2 * fatSectors + rootSectors;
  const totalSectors = dataStart + dataClusters * sectorsPerCluster;
  const img = Buffer.alloc(totalSectors * SECTOR);

  writeBootSector(img, { sectorsPerCluster, reserved, fatSectors, totalSectors, volumeId });

  const fat = new Fat12(dataClusters + 2);
  fat.set(0, 0xff8);
  fat.set(1, 0xfff);
  let nextCluster = 2;
  const root = img.subarray((reserved + 2 * fatSectors) * SECTOR, dataStart * SECTOR);
  let slot = 0;
  const label = Buffer.from(LABEL.padEnd(11, " "), "ascii");
  label.copy(root, 0);
  root[11] = 0x08;
  slot++;
  files.forEach((f, i) => {
    const clusters = Math.ceil(f.content.length / clusterBytes);
    const first = clusters === 0 ? 0 : nextCluster;
    for (let c = 0; c < clusters; c++) fat.set(nextCluster + c, c === clusters - 1 ? 0xfff : nextCluster + c + 1);
    const offset = (dataStart + (nextCluster - 2) * sectorsPerCluster) * SECTOR;
    img.set(f.content, offset);
    nextCluster += clusters;
    const short = shortName(f.name, i + 1);
    slot = writeLongName(root, slot, f.name, checksum(short));
    writeShortEntry(root, slot++, short, first, f.content.length);
  });
  const fatBytes = fat.bytes();
  for (let copy = 0; copy < 2; copy++)
    img.set(fatBytes.subarray(0, fatSectors * SECTOR), (reserved + copy * fatSectors) * SECTOR);
  return img;
}

function clustersFor(files: readonly SeedFile[], sectorsPerCluster: number): number {
  return files.reduce((n, f) => n + Math.ceil(f.content.length / (sectorsPerCluster * SECTOR)), 0);
}

function writeBootSector(
  img: Buffer,
  p: { sectorsPerCluster: number; reserved: number; fatSectors: number; totalSectors: number; volumeId: number },
): void {
  img.set([0xeb, 0x3c, 0x90], 0);
  img.write("PEERPODS", 3, "ascii");
  img.writeUInt16LE(SECTOR, 11);
  img[13] = p.sectorsPerCluster;
  img.writeUInt16LE(p.reserved, 14);
  img[16] = 2; // FAT copies
  img.writeUInt16LE(ROOT_ENTRIES, 17);
  if (p.totalSectors < 0x10000) img.writeUInt16LE(p.totalSectors, 19);
  else img.writeUInt32LE(p.totalSectors, 32);
  img[21] = 0xf8; // fixed disk
  img.writeUInt16LE(p.fatSectors, 22);
  img.writeUInt16LE(32, 24); // sectors per track (geometry is unused)
  img.writeUInt16LE(2, 26); // heads
  img[36] = 0x80;
  img[38] = 0x29; // extended boot signature: id, label and type follow
  img.writeUInt32LE(p.volumeId >>> 0, 39);
  img.write(LABEL.padEnd(11, " "), 43, "ascii");
  img.write("FAT12   ", 54, "ascii");
  img[510] = 0x55;
  img[511] = 0xaa;
}

/** An 8.3 alias such as USER-D~1 (unique by its index). */
function shortName(name: string, index: number): Buffer {
  const upper = name.toUpperCase().replace(/[^A-Z0-9_-]/g, "_");
  const tail = `~${index}`;
  const base = upper.split(".")[0]!.slice(0, 8 - tail.length) + tail;
  return Buffer.from(`${base.padEnd(8, " ")}   `, "ascii");
}

function checksum(short: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + short[i]!) & 0xff;
  return sum;
}

function lfnEntries(name: string): number {
  return Math.ceil((name.length + 1) / 13);
}

/** VFAT long-name entries (stored last part first), ahead of the short entry. */
function writeLongName(dir: Buffer, slot: number, name: string, sum: number): number {
  const count = lfnEntries(name);
  const units: number[] = [...name].map((c) => c.charCodeAt(0));
  units.push(0);
  while (units.length < count * 13) units.push(0xffff);
  for (let n = count; n >= 1; n--) {
    const e = dir.subarray(slot * DIR_ENTRY, (slot + 1) * DIR_ENTRY);
    e[0] = n | (n === count ? 0x40 : 0);
    e[11] = 0x0f;
    e[12] = 0;
    e[13] = sum;
    e.writeUInt16LE(0, 26);
    const part = units.slice((n - 1) * 13, n * 13);
    const positions = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    for (const [k, pos] of positions.entries()) e.writeUInt16LE(part[k]!, pos);
    slot++;
  }
  return slot;
}

function writeShortEntry(dir: Buffer, slot: number, short: Buffer, cluster: number, size: number): void {
  const e = dir.subarray(slot * DIR_ENTRY, (slot + 1) * DIR_ENTRY);
  short.copy(e, 0);
  e[11] = 0x21; // read-only, archive
  e.writeUInt16LE(FAT_DATE, 16); // created
  e.writeUInt16LE(FAT_DATE, 18); // accessed
  e.writeUInt16LE(0, 22); // modified time
  e.writeUInt16LE(FAT_DATE, 24); // modified date
  e.writeUInt16LE(cluster, 26);
  e.writeUInt32LE(size, 28);
}

/** A FAT12 table: 12-bit entries packed two per three bytes. */
class Fat12 {
  private readonly buf: Buffer;

  constructor(entries: number) {
    this.buf = Buffer.alloc(Math.ceil((entries * 3) / 2) + SECTOR);
  }

  set(index: number, value: number): void {
    const at = Math.floor((index * 3) / 2);
    if (index % 2 === 0) {
      this.buf[at] = value & 0xff;
      this.buf[at + 1] = (this.buf[at + 1]! & 0xf0) | ((value >> 8) & 0x0f);
    } else {
      this.buf[at] = (this.buf[at]! & 0x0f) | ((value << 4) & 0xf0);
      this.buf[at + 1] = (value >> 4) & 0xff;
    }
  }

  bytes(): Buffer {
    return this.buf;
  }
}
