// The process groups of local VMs, found by the marks their processes carry (vm-marks.ts),
// never by a recorded id alone: pids wrap within minutes on a busy node, so a recorded process
// group id may by now name someone else's processes.
import fs from "node:fs/promises";
import { marksFromEnviron, type VmMarks } from "./vm-marks.ts";

export interface VmGroup {
  readonly pgid: number;
  readonly marks: VmMarks;
}

/** Every live process group whose processes carry marks of a VM of `vmsDir` that `match`
 * accepts. Reads every process's environment: for listings and for VMs whose record lost
 * track of them; a recorded group is checked with verifiedGroup instead. */
export async function findVmGroups(vmsDir: string, match: (m: VmMarks) => boolean = () => true): Promise<VmGroup[]> {
  const pids = (await fs.readdir("/proc")).filter((e) => /^\d+$/.test(e)).map(Number);
  const found = await Promise.all(pids.map((pid) => markedProcess(pid)));
  const groups = new Map<number, VmMarks>();
  for (const p of found) {
    if (p === undefined || p.marks.vmsDir !== vmsDir || !match(p.marks)) continue;
    if (!groups.has(p.pgid)) groups.set(p.pgid, p.marks);
  }
  return [...groups].map(([pgid, marks]) => ({ pgid, marks }));
}

/** The group `pgid` when its leader is alive and carries marks of `vmsDir` that `match`
 * accepts; undefined when the id is free or names another process (pids are reused). */
export async function verifiedGroup(
  vmsDir: string,
  pgid: number,
  match: (m: VmMarks) => boolean,
): Promise<VmGroup | undefined> {
  const p = await markedProcess(pgid);
  return p !== undefined && p.pgid === pgid && p.marks.vmsDir === vmsDir && match(p.marks)
    ? { pgid, marks: p.marks }
    : undefined;
}

async function markedProcess(pid: number): Promise<{ pgid: number; marks: VmMarks } | undefined> {
  let environ: string;
  let stat: string;
  try {
    [environ, stat] = await Promise.all([
      fs.readFile(`/proc/${pid}/environ`, "latin1"),
      fs.readFile(`/proc/${pid}/stat`, "latin1"),
    ]);
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
  const marks = marksFromEnviron(environ);
  const pgid = marks === undefined ? undefined : processGroupOf(stat);
  return marks === undefined || pgid === undefined ? undefined : { pgid, marks };
}

/** The process group id from a /proc/<pid>/stat line (the fields after the command's ")"). */
function processGroupOf(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const pgid = Number(fields[2]);
  return Number.isInteger(pgid) && pgid > 0 ? pgid : undefined;
}

/** True when a process group still has a member. */
export function isAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Stops the groups: SIGTERM, then SIGKILL for what is left after `graceMs`. A group still
 * alive after the grace is signalled again only if its marks still say it is the VM's (its id
 * may have been freed and reused meanwhile).
 */
export async function stopVmGroups(groups: readonly VmGroup[], graceMs = 3000): Promise<void> {
  for (const g of groups) signal(g.pgid, "SIGTERM");
  const end = Date.now() + graceMs;
  while (groups.some((g) => isAlive(g.pgid)) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  const left: VmGroup[] = [];
  for (const g of groups) {
    if (!isAlive(g.pgid)) continue;
    const still = await verifiedGroup(
      g.marks.vmsDir,
      g.pgid,
      (m) => m.name === g.marks.name && m.token === g.marks.token,
    );
    // The leader may be gone while other members linger: look for the group by its marks.
    const members =
      still !== undefined
        ? [still]
        : (await findVmGroups(g.marks.vmsDir, (m) => m.name === g.marks.name && m.token === g.marks.token)).filter(
            (x) => x.pgid === g.pgid,
          );
    left.push(...members);
  }
  for (const g of left) signal(g.pgid, "SIGKILL");
  const hardEnd = Date.now() + 2000;
  while (left.some((g) => isAlive(g.pgid)) && Date.now() < hardEnd) await new Promise((r) => setTimeout(r, 10));
}

function signal(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
