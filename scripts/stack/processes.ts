// Detached child processes that outlive the command that started them, tracked by pid in a state
// file. A pid is only trusted while /proc/<pid>/cmdline still carries the marker it was started
// with, so a recycled pid is never signalled.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Started {
  pid: number;
  marker: string;
  log: string;
}

export function startDetached(
  command: string,
  args: string[],
  log: string,
  env?: NodeJS.ProcessEnv,
): Started {
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    const marker = args.find((a) => a.startsWith('-Dcdr.stack=') || a.endsWith('.ts')) ?? command;
    return { pid: child.pid, marker, log };
  } finally {
    closeSync(fd);
  }
}

export function isAlive(p: Started | undefined): boolean {
  if (!p) return false;
  try {
    const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
    if (!cmdline.split('\0').includes(p.marker)) return false;
    // A zombie still has a cmdline until its parent reaps it; it is not running.
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export async function stopProcess(p: Started | undefined, graceMs = 15_000): Promise<boolean> {
  if (!isAlive(p) || !p) return false;
  signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(p)) return true;
    await sleep(100);
  }
  signal(p.pid, 'SIGKILL');
  while (isAlive(p)) await sleep(50);
  return true;
}

export function killProcess(p: Started | undefined): void {
  if (p && isAlive(p)) signal(p.pid, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
