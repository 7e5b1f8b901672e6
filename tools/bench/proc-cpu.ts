import { readFileSync, readdirSync } from 'node:fs';

/** A process as /proc shows it, with the CPU it and its reaped children used so far. */
export interface Proc {
  pid: number;
  ppid: number;
  cpuSeconds: number;
  cmd: string;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * Context switches on the whole machine since boot (/proc/stat `ctxt`). Every wake-up of a process costs one, and
 * on these VMs a switch is dear; unlike CPU time, the count hardly moves with what other guests on the host do.
 */
export function machineContextSwitches(): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ctxt '));
  return line ? Number(line.slice(5)) : NaN;
}

export function readProcs(): Proc[] {
  const procs: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces or parentheses: the fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, and cutime, cstime: the CPU of reaped children (e.g. PostgreSQL backends whose pooled
      // connection closed), so that processes ending during the window still count.
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      procs.push({ pid: Number(entry), ppid: Number(fields[1]), cpuSeconds: ticks / CLOCK_TICKS, cmd });
    } catch {
      // the process ended while we read it
    }
  }
  return procs;
}

/**
 * CPU seconds of `rootPid`'s descendants (not the root itself), summed per group that `classify` names from the
 * command line; a process's children count in its own group unless they classify otherwise.
 */
export function descendantCpu(rootPid: number, classify: (cmd: string) => string | undefined): Record<string, number> {
  const procs = readProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const totals: Record<string, number> = {};
  const walk = (pid: number, inherited: string) => {
    for (const p of children.get(pid) ?? []) {
      const group = classify(p.cmd) ?? inherited;
      totals[group] = (totals[group] ?? 0) + p.cpuSeconds;
      walk(p.pid, group);
    }
  };
  walk(rootPid, 'other');
  return totals;
}

/** CPU seconds of `pid` alone (with its reaped children), or 0 if it is gone. */
export function processCpu(pid: number): number {
  return readProcs().find((p) => p.pid === pid)?.cpuSeconds ?? 0;
}
