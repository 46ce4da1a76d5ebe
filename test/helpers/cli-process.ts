// A `cdr-pipeline <command>` child process, for tests that kill it. Its JSON log lines are kept;
// `port` resolves with the ops port from its "<command> started" line.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface CliProcess {
  child: ChildProcess;
  lines: string[];
  port: Promise<number>;
  exit: Promise<number | null>;
  /** SIGKILL if still running (for afterEach). */
  kill(): Promise<void>;
}

export function spawnCli(
  command: 'produce' | 'enrich' | 'recordings',
  env: Record<string, string>,
): CliProcess {
  const child = spawn(process.execPath, ['src/cli.ts', command], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const startedMsg = {
    produce: 'producer started',
    enrich: 'enricher started',
    recordings: 'recordings stage started',
  }[command];
  const lines: string[] = [];
  const port = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === startedMsg && entry.port) resolve(entry.port);
    });
    child.on('exit', (code) =>
      reject(
        new Error(
          `${command} exited with ${code} before starting; its last lines:\n${lines.slice(-8).join('\n')}`,
        ),
      ),
    );
  });
  port.catch(() => undefined);
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => lines.push(line));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    port,
    exit,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Runs `cdr-pipeline <args>` to its end: exit code, stdout and stderr. */
export function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli.ts', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
