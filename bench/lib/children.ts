/**
 * Child processes, tracked so that every one is killed when the bench ends, however it ends;
 * free ports; and the bounded poll-connect that waits for an SMTP 220 greeting.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set<ChildProcess>();

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  readonly error?: Error;
}

export interface Child {
  readonly pid: number;
  readonly command: string;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** The last few KiB of its standard output and error, for error messages. */
  output(): string;
  /**
   * The first line of its output (standard output or error, seen so far or to come) matching
   * `pattern`, with when it came (performance.now()); rejects if the process exits first or none
   * comes within `timeoutMs`.
   */
  logged(pattern: RegExp, timeoutMs?: number): Promise<{ match: RegExpExecArray; at: number }>;
  hasExited(): boolean;
}

interface LineWaiter {
  readonly pattern: RegExp;
  readonly resolve: (seen: { match: RegExpExecArray; at: number }) => void;
}

export function startChild(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  const proc = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  live.add(proc);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  // Every line, with when it came, for cases that wait for a log line (a bench run logs a few hundred).
  const lines: Array<{ line: string; at: number }> = [];
  const waiters = new Set<LineWaiter>();
  const heard = (line: string) => {
    const at = performance.now();
    lines.push({ line, at });
    for (const waiter of waiters) {
      const match = waiter.pattern.exec(line);
      if (match) waiter.resolve({ match, at });
    }
  };
  createInterface({ input: proc.stdout }).on('line', heard);
  createInterface({ input: proc.stderr }).on('line', heard);
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      live.delete(proc);
      resolve({ code, signal });
    });
    proc.once('error', (error) => {
      // A failed spawn emits 'error' and no 'exit'; a failed kill also lands here, harmlessly.
      if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) return;
      done = true;
      live.delete(proc);
      resolve({ code: null, signal: null, error });
    });
  });
  return {
    pid: proc.pid ?? -1,
    command: `${command} ${args.join(' ')}`,
    exited,
    output: () => tail.trim(),
    logged: (pattern, timeoutMs = 300_000) =>
      new Promise((resolve, reject) => {
        for (const { line, at } of lines) {
          const match = pattern.exec(line);
          if (match) return resolve({ match, at });
        }
        const finish = (settle: () => void) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          settle();
        };
        const waiter: LineWaiter = { pattern, resolve: (seen) => finish(() => resolve(seen)) };
        const timer = setTimeout(
          () =>
            finish(() => reject(new Error(`no ${pattern} in the output of ${command} within ${timeoutMs / 1000} s`))),
          timeoutMs,
        );
        waiters.add(waiter);
        void exited.then(() =>
          finish(() => reject(new Error(`${command} exited before printing ${pattern}:\n${tail.trim()}`))),
        );
      }),
    hasExited: () => done,
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(child: Child, graceMs = 5000): Promise<ExitStatus> {
  if (!child.hasExited() && child.pid > 0) {
    signal(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(child.pid, 'SIGKILL'), graceMs);
    try {
      return await child.exited;
    } finally {
      clearTimeout(timer);
    }
  }
  return child.exited;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Kills every child still running, by its own pid. Synchronous, so it works in an 'exit' handler. */
export function killAllChildren(): void {
  for (const proc of live) {
    if (proc.pid !== undefined) signal(proc.pid, 'SIGKILL');
  }
  live.clear();
}

/** A port that was free on 127.0.0.1 a moment ago (callers retry if it is taken meanwhile). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Attempt = { kind: 'greeted' } | { kind: 'refused' } | { kind: 'bad'; reason: string };

/** One connection: waits for the 220 greeting, then says QUIT and waits for the server to close. */
function greetOnce(port: number, timeoutMs: number, onGreeting: () => void): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    let greeted = false;
    let settled = false;
    const finish = (attempt: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(attempt);
    };
    const timer = setTimeout(
      () => finish(greeted ? { kind: 'greeted' } : { kind: 'bad', reason: `no greeting within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (greeted) return;
      text += chunk;
      for (const line of text.split('\r\n').slice(0, -1)) {
        if (line.startsWith('220 ')) {
          greeted = true;
          onGreeting();
          socket.write('QUIT\r\n');
          return;
        }
        if (!line.startsWith('220-')) return finish({ kind: 'bad', reason: `greeting was "${line}"` });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (greeted) return finish({ kind: 'greeted' });
      finish(error.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'bad', reason: error.message });
    });
    socket.on('close', () => finish(greeted ? { kind: 'greeted' } : { kind: 'refused' }));
  });
}

/**
 * Poll-connects to 127.0.0.1:port until an SMTP greeting arrives; returns `performance.now()`
 * at the moment the 220 line was read. Gives up when `child` exits or after `deadlineMs`.
 */
export async function waitForGreeting(port: number, child: Child, deadlineMs = 15_000): Promise<number> {
  const deadline = performance.now() + deadlineMs;
  let greetedAt = 0;
  for (let attempt = 1; ; attempt++) {
    if (child.hasExited()) {
      const status = await child.exited;
      throw new Error(
        `${child.command} exited (${status.error?.message ?? status.signal ?? `code ${status.code}`}) before greeting on port ${port}: ${child.output() || '(no output)'}`,
      );
    }
    const left = deadline - performance.now();
    if (left <= 0)
      throw new Error(
        `${child.command}: no SMTP greeting on 127.0.0.1:${port} within ${deadlineMs} ms (${attempt - 1} attempts)`,
      );
    const result = await greetOnce(port, Math.min(5000, Math.max(50, left)), () => {
      greetedAt = performance.now();
    });
    if (result.kind === 'greeted') return greetedAt;
    if (result.kind === 'bad') throw new Error(`${child.command} on port ${port}: ${result.reason}`);
    await sleep(2);
  }
}

/**
 * `sync(1)` before a measured run: data still being written back from the previous run (or
 * from deleting files) then does not slow this one. Bounded at 60 s.
 */
export function flushDisks(): void {
  spawnSync('sync', { stdio: 'ignore', timeout: 60_000 });
}
