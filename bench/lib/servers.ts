/** Postfix's smtp-sink and smtp-source, and our CLI server, each as a separate process on 127.0.0.1. */
import { accessSync, constants, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Child, freePort, startChild, stopChild, waitForGreeting } from './children.js';

export interface Tools {
  readonly source: string;
  readonly sink: string;
}

export const installHint =
  "bench: smtp-source and smtp-sink not found; install Debian's postfix package: " +
  'sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix ' +
  '(on CI first make /usr/sbin/policy-rc.d a script that exits 101 so the Postfix daemon does not start)';

function findExecutable(name: string): string | undefined {
  const dirs = ['/usr/sbin', '/usr/local/sbin', ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export function findTools(): Tools | undefined {
  const source = findExecutable('smtp-source');
  const sink = findExecutable('smtp-sink');
  return source && sink ? { source, sink } : undefined;
}

export interface RunningServer {
  readonly port: number;
  readonly child: Child;
  /** performance.now() when the 220 greeting was read. */
  readonly greetedAt: number;
  stop(): Promise<void>;
}

/** Starts a server on a fresh free port, retrying a few times if another process takes the port first. */
async function startOnFreePort(start: (port: number) => Child): Promise<RunningServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = start(port);
    try {
      const greetedAt = await waitForGreeting(port, child);
      return {
        port,
        child,
        greetedAt,
        stop: async () => {
          await stopChild(child);
        },
      };
    } catch (error) {
      lastError = error;
      await stopChild(child, 1000);
    }
  }
  throw lastError;
}

/** smtp-sink accepts and discards: the ceiling. As root it must drop privileges with -u. */
export function startSink(tools: Tools): Promise<RunningServer> {
  const asRoot = process.getuid?.() === 0;
  return startOnFreePort((port) =>
    startChild(tools.sink, [...(asRoot ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1000']),
  );
}

/** The environment for our CLI: quiet, and no TMS_* or MAIL_DIR settings leaking in from the caller. */
export function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TMS_') && key !== 'MAIL_DIR' && key !== 'NODE_OPTIONS') env[key] = value;
  }
  env.LOG_LEVEL = 'ERROR';
  return env;
}

export const maxMessageSize = 16 * 1024 * 1024;

export interface OurServerSpawn {
  readonly cliPath: string;
  readonly repoRoot: string;
  readonly mailDir: string;
}

/** Spawns `node dist/cli.js MAIL_DIR --smtp-port PORT` exactly as a user would; returns at once. */
export function spawnOurServer(spec: OurServerSpawn, port: number): Child {
  return startChild(
    process.execPath,
    [
      spec.cliPath,
      spec.mailDir,
      '--smtp-port',
      String(port),
      '--http-port',
      '0',
      '--max-message-size',
      String(maxMessageSize),
    ],
    {
      env: serverEnv(),
      cwd: spec.repoRoot,
    },
  );
}

export function startOurServer(spec: OurServerSpawn): Promise<RunningServer> {
  return startOnFreePort((port) => spawnOurServer(spec, port));
}

/** CPU time a live process has used so far, all its threads, in clock ticks (1/100 s on Linux). */
function cpuTicks(pid: number): number {
  // The fields after the command name, which is in parentheses and may hold spaces or parentheses: utime and stime are the 14th and 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** A settled process uses at most `idleTicks` of CPU over `settleWindowMs`, sampled every `settlePollMs`. */
const settleWindowMs = 300;
const settlePollMs = 50;
const idleTicks = 2;

/**
 * Waits until our server has finished starting: the greeting is not the end of it, as after SMTP
 * listens the CLI still binds its HTTP port, and its first scan of MAIL_DIR and V8's compiler
 * threads run (an older build also loaded its HTTP API then: ~0.5 s of CPU). A throughput run
 * measures the server started, not its start-up (which has its own case). Resolves to
 * `performance.now()` when the process went quiet (the start of its first idle window), or to
 * undefined if it is still busy after `deadlineMs`.
 */
export async function waitUntilSettled(child: Child, deadlineMs = 10_000): Promise<number | undefined> {
  const started = performance.now();
  const samples = [{ at: started, ticks: cpuTicks(child.pid) }];
  while (performance.now() - started < deadlineMs) {
    await sleep(settlePollMs);
    const now = { at: performance.now(), ticks: cpuTicks(child.pid) };
    samples.push(now);
    // The newest sample at least a window old, dropping those before it.
    while (samples.length > 1 && now.at - samples[1].at >= settleWindowMs) samples.shift();
    const windowStart = samples[0];
    if (now.at - windowStart.at >= settleWindowMs && now.ticks - windowStart.ticks <= idleTicks) return windowStart.at;
  }
  return undefined;
}

/** A field of /proc/PID/status in bytes (kB there); undefined where /proc has no such line. */
function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident set of a live process, in bytes. */
export function peakRss(pid: number): number | undefined {
  return statusBytes(pid, 'VmHWM');
}

/** Resident set of a live process now, in bytes. */
export function residentBytes(pid: number): number | undefined {
  return statusBytes(pid, 'VmRSS');
}

/** Runs smtp-source to completion against 127.0.0.1:port; returns the wall time in seconds. */
export async function runSmtpSource(
  tools: Tools,
  args: readonly string[],
  port: number,
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  const child = startChild(tools.source, [...args, `127.0.0.1:${port}`]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopChild(child, 500);
  }, timeoutMs);
  const status = await child.exited;
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  if (timedOut) throw new Error(`smtp-source did not finish within ${timeoutMs / 1000} s: ${child.command}`);
  if (status.code !== 0) {
    throw new Error(
      `smtp-source failed (${status.error?.message ?? status.signal ?? `exit code ${status.code}`}): ${child.command}\n${child.output() || '(no output)'}`,
    );
  }
  return seconds;
}
