// What the harness reads about the server's processes from Linux's /proc: CPU time, peak RSS, children.
import fs from 'node:fs';

/** Clock ticks per second of /proc/PID/stat's times (`getconf CLK_TCK`); 100 on every Linux in practice. */
const CLOCK_TICKS = 100;

/** User plus system CPU time from a /proc stat file, in milliseconds. */
function statCpuMs(file: string): number {
  const stat = fs.readFileSync(file, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS;
}

/** CPU time of a process, all of its threads included, in milliseconds. */
export function cpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU time of a process's main thread alone (a Node process's event loop), in milliseconds; the
 * rest is its other threads: hashing, V8's compiler and GC helpers, libuv's pool.
 */
export function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

function statusKb(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/** Peak resident set size since the process started or since `resetPeakRss`, in MB. */
export function peakRssMb(pid: number): number {
  return statusKb(pid, 'VmHWM') / 1024;
}

export function rssMb(pid: number): number {
  return statusKb(pid, 'VmRSS') / 1024;
}

/** Sets the process's peak RSS back to its current RSS (Linux 4.0+: `echo 5 > /proc/PID/clear_refs`). */
export function resetPeakRss(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** Direct children of a process (cluster workers; the migration's short-lived CLI is gone by then). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

export function alive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}/stat`);
}

/** CPU time the whole machine spent busy (all cores, every process), in milliseconds. */
export function machineBusyMs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  void idle;
  void iowait;
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / CLOCK_TICKS;
}
