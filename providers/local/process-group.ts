/** True when a process group still has a member. */
export function isAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Asks the group to stop (SIGTERM), then kills what is left after `graceMs`. */
export async function killGroup(pgid: number, graceMs = 3000): Promise<void> {
  if (!signal(pgid, "SIGTERM")) return;
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 25));
    if (!isAlive(pgid)) return;
  }
  signal(pgid, "SIGKILL");
  const hardEnd = Date.now() + 2000;
  while (isAlive(pgid) && Date.now() < hardEnd) await new Promise((r) => setTimeout(r, 10));
}

function signal(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}
