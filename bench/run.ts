/**
 * `npm run bench [-- --runs N] [--only a,b,...] [--tmp DIR] [--no-wait] [--no-build] [--against PATH]`
 *
 * Measures our SMTP server (the built CLI, as a separate process) against Postfix's smtp-sink
 * with Postfix's smtp-source as the load, plus start-up time and peak memory. Each figure is the
 * median of --runs runs (default 3). Progress goes to standard error, the table to standard
 * output. Exit code 1 if anything failed (a run, a mailbox check); missed targets are only reported.
 * Before each throughput case it times file creation under the temp root (bench/lib/disk.ts) and,
 * if that is slow, waits for it to recover (up to 360 s over the whole run).
 *
 * To add a case, append a `BenchCase` to `cases` below: it gets a `BenchContext` and returns rows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { indexStartupCase, outsideChangeCase } from './cases/index.js';
import { httpCase } from './cases/http.js';
import { latencyCase } from './cases/latency.js';
import { startupCase } from './cases/startup.js';
import { throughputCase } from './cases/throughput.js';
import { unreadRepliesCase } from './cases/unread-replies.js';
import { killAllChildren } from './lib/children.js';
import { probeFileCreate, probeFiles, slowCreateMicros, waitForFastCreates } from './lib/disk.js';
import { findTools, installHint } from './lib/servers.js';
import { micros } from './lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from './lib/types.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The cases, in the order they run. Ids are what --only takes. */
const cases: BenchCase[] = [
  throughputCase({
    id: 'a',
    messages: 5000,
    bytes: 2 * KiB,
    sessions: 10,
    recipients: 1,
    reuseConnections: false,
    targetShare: 30,
  }),
  throughputCase({
    id: 'b',
    messages: 2000,
    bytes: 100 * KiB,
    sessions: 10,
    recipients: 1,
    reuseConnections: false,
    targetShare: 35,
    peakRssTargetBytes: 100 * MiB,
  }),
  throughputCase({
    id: 'c',
    messages: 2000,
    bytes: 2 * KiB,
    sessions: 10,
    recipients: 5,
    reuseConnections: false,
    targetShare: 20,
  }),
  throughputCase({
    id: 'd',
    messages: 2000,
    bytes: 2 * KiB,
    sessions: 1,
    recipients: 1,
    reuseConnections: false,
    targetShare: 35,
  }),
  throughputCase({ id: 'e', messages: 5000, bytes: 2 * KiB, sessions: 10, recipients: 1, reuseConnections: true }),
  startupCase({ minRuns: 5, targetMs: 300 }),
  latencyCase({ id: 'f', messages: 1000, bodyBytes: 2 * KiB, targetP50Ms: 5 }),
  unreadRepliesCase({ id: 'g', floodBytes: 16 * MiB, replyBytes: 180 * MiB, peakRssTargetBytes: 150 * MiB }),
  indexStartupCase({
    messages: 100_000,
    mailboxes: 1000,
    targetListeningMs: 1000,
    targetIndexMs: 20_000,
    targetRssBytes: 300 * MiB,
  }),
  outsideChangeCase({ changes: 200, targetP50Ms: 300 }),
  httpCase({
    messages: 100_000,
    mailboxes: 1000,
    requests: 20,
    events: 200,
    targets: { firstPageMs: 50, searchMs: 300, rssBytes: 300 * MiB, eventP50Ms: 20 },
  }),
];

/**
 * The longest the bench waits for slow file creation to pass, over the whole run: the kernel's
 * longest window (360 s for inodes freed in blocks not yet written back). A wait that ends when one
 * probe reads fast is not enough, as the probe's own writes can put freed inodes back in that window;
 * hence a probe before every case, and a wait there too while the budget lasts.
 */
const maxDiskWaitMs = 360_000;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cliPath = path.join(repoRoot, 'dist', 'cli.js');

const usage = `Usage: npm run bench -- [--runs N] [--only ID,ID,...] [--tmp DIR] [--no-wait] [--no-build] [--against PATH]

  --runs N      measured runs per figure, median reported (default 3)
  --only IDS    run only these cases: ${cases.map((c) => c.id).join(', ')}
  --tmp DIR     where the temp MAIL_DIRs go (default ${os.tmpdir()}); e.g. /dev/shm
                to take the disk out of the measurement
  --no-wait     if creating files under DIR is slow before a throughput case (as on
                ext4 without a journal for minutes after many files were deleted),
                report it but don't wait for it to pass (up to ${maxDiskWaitMs / 1000} s in all)
  --no-build    use dist/ as it is, even if src/ is newer
  --against PATH  also measure this built CLI (another checkout's dist/cli.js) in
                every run of the throughput cases, taking turns with ours: before
                and after a change, in one sitting
`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

interface Flags {
  readonly runs: number;
  readonly only: Set<string> | undefined;
  readonly tmp: string;
  readonly wait: boolean;
  readonly build: boolean;
  /** A CLI measured beside ours in the throughput cases. */
  readonly against: string | undefined;
}

function parseFlags(): Flags {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        runs: { type: 'string' },
        only: { type: 'string' },
        tmp: { type: 'string' },
        'no-wait': { type: 'boolean' },
        'no-build': { type: 'boolean' },
        against: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${usage}`);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const runs = values.runs === undefined ? 3 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    fail(`--runs must be a whole number from 1 to 100, not "${values.runs}"`);
  let only: Set<string> | undefined;
  if (values.only !== undefined) {
    only = new Set(
      values.only
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean),
    );
    const unknown = [...only].filter((id) => !cases.some((c) => c.id === id));
    if (unknown.length > 0 || only.size === 0) fail(`--only takes case ids from: ${cases.map((c) => c.id).join(', ')}`);
  }
  const tmp = path.resolve(values.tmp ?? os.tmpdir());
  if (!existsSync(tmp) || !statSync(tmp).isDirectory()) fail(`--tmp ${tmp} is not a folder`);
  const against = values.against === undefined ? undefined : path.resolve(values.against);
  if (against !== undefined && !existsSync(against)) fail(`--against ${against} does not exist`);
  return { runs, only, tmp, wait: !values['no-wait'], build: !values['no-build'], against };
}

/** Newest modification time of the files under dir (recursively) that pass `keep`. */
function newest(dir: string, keep: (name: string) => boolean): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full, keep));
    else if (keep(entry.name)) latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

/** Builds dist/ with `npm run build` when it is missing or older than src/ or the build config. */
function ensureBuilt(build: boolean): void {
  const built = existsSync(cliPath) ? statSync(cliPath).mtimeMs : 0;
  const sources = Math.max(
    newest(path.join(repoRoot, 'src'), (name) => name.endsWith('.ts')),
    ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map(
      (name) => statSync(path.join(repoRoot, name)).mtimeMs,
    ),
  );
  if (built >= sources) return;
  if (!build) {
    if (built === 0) fail('dist/cli.js is missing; run `npm run build` (or drop --no-build)');
    process.stderr.write('bench: warning: dist/ is older than src/ (--no-build given, measuring it anyway)\n');
    return;
  }
  process.stderr.write(
    `bench: ${built === 0 ? 'dist/ is missing' : 'dist/ is older than src/'}; running npm run build\n`,
  );
  const result = spawnSync('npm', ['run', 'build'], {
    cwd: repoRoot,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (result.status !== 0) fail('npm run build failed (see above); fix the build or rerun with --no-build');
}

/**
 * Times file creation under tempRoot and, while it is slow, waits (unless told not to, and within
 * what is left of maxDiskWaitMs) so that the throughput figures measure the server rather than the
 * disk's recent past. Returns the summary's wording for it.
 */
class DiskSettler {
  waitedMs = 0;
  constructor(
    private readonly tempRoot: string,
    private readonly where: string,
    private readonly wait: boolean,
  ) {}

  /** One probe, reported; µs per file. */
  probe(label: string, when: string): number {
    const taken = probeFileCreate(this.tempRoot);
    process.stderr.write(
      `${label} file create in ${this.where} ${when}: ${micros(taken)} per file (${probeFiles} x 2 KiB)${taken < slowCreateMicros ? '' : ' (slow)'}\n`,
    );
    return taken;
  }

  async settle(label: string): Promise<string> {
    const first = this.probe(label, 'before');
    if (first < slowCreateMicros) return String(Math.round(first));
    const unrepresentative =
      'the throughput figures are not representative of the server (--tmp /dev/shm takes the disk out)';
    process.stderr.write(
      `${label} that is slow (${micros(slowCreateMicros)} or more), most likely because many files were deleted there in the last minutes: ` +
        'ext4 without a journal skips inodes freed in the last 60-360 s, rechecking each on every create\n',
    );
    const budgetMs = maxDiskWaitMs - this.waitedMs;
    if (!this.wait || budgetMs <= 0) {
      process.stderr.write(
        `${label} not waiting (${this.wait ? `the ${maxDiskWaitMs / 1000} s for waiting are used up` : '--no-wait'}): ${unrepresentative}\n`,
      );
      return `${Math.round(first)} (slow)`;
    }
    process.stderr.write(
      `${label} waiting up to ${(budgetMs / 1000).toFixed(0)} s for it to pass, re-probing (--no-wait skips this)\n`,
    );
    const settled = await waitForFastCreates(this.tempRoot, budgetMs);
    this.waitedMs += settled.waitedMs;
    const waited = `${(settled.waitedMs / 1000).toFixed(0)} s`;
    const recovered = settled.micros < slowCreateMicros;
    process.stderr.write(
      `${label} waited ${waited}; file create in ${this.where}: ${micros(settled.micros)} per file${recovered ? '' : `, still slow: ${unrepresentative}`}\n`,
    );
    return `${Math.round(first)}, ${Math.round(settled.micros)} after waiting ${waited}`;
  }
}

function printTable(rows: readonly ResultRow[]): void {
  const header = ['case', 'smtp-sink', 'ours', 'ours/sink', 'target', 'met'];
  const body = rows.map((row) => [
    row.name,
    row.sink ?? '',
    row.ours,
    row.share ?? '',
    row.target,
    row.met === undefined ? '-' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i].length)));
  // Text columns flush left, figures flush right.
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 || i === 5 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  process.stdout.write(`\n${line(header)}\n${rule}\n${body.map(line).join('\n')}\n`);
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const tools = findTools();
  if (!tools) {
    process.stderr.write(`${installHint}\n`);
    process.exit(1);
  }
  ensureBuilt(flags.build);

  const tempRoot = mkdtempSync(path.join(flags.tmp, 'tms-bench-'));
  // However the bench ends: no child left behind, no temp files left behind.
  process.on('exit', () => {
    killAllChildren();
    rmSync(tempRoot, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping\n`);
      process.exit(130);
    });
  }

  const ctx: BenchContext = {
    runs: flags.runs,
    repoRoot,
    cliPath,
    againstCliPath: flags.against,
    tools,
    tempRoot,
    progress: (text) => process.stderr.write(`${text}\n`),
  };
  const selected = cases.filter((c) => !flags.only || flags.only.has(c.id));
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  const started = performance.now();
  process.stderr.write(
    `bench: ${selected.length} case(s), median of ${flags.runs} run(s) each; MAIL_DIRs under ${tempRoot}; ${os.cpus().length} CPUs (load ${os.loadavg()[0].toFixed(1)}), Node ${process.version}, ${tools.source}${flags.against ? `; --against ${flags.against}` : ''}\n`,
  );
  const disk = selected.some((c) => c.diskBound) ? new DiskSettler(tempRoot, flags.tmp, flags.wait) : undefined;
  const caseProbes: string[] = [];
  for (const benchCase of selected) {
    // Probed after the case too: the disk can turn slow during one (its own writes keep freed
    // inodes' blocks dirty, hence recent), and the summary then shows it.
    const label = `(${benchCase.id})`;
    const caseDisk = benchCase.diskBound ? disk : undefined;
    const before = caseDisk ? await caseDisk.settle(label) : undefined;
    const caseStarted = performance.now();
    try {
      rows.push(...(await benchCase.run(ctx)));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push(`${benchCase.title}: ${message}`);
      process.stderr.write(`\nbench: FAILED ${benchCase.title}\n${message}\n\n`);
      rows.push({ name: benchCase.title, ours: 'FAILED', target: '', met: false });
      // A failed case may leave its processes running; the next case starts clean.
      killAllChildren();
    }
    process.stderr.write(`  (${((performance.now() - caseStarted) / 1000).toFixed(1)} s)\n`);
    if (caseDisk) caseProbes.push(`${label} ${before} -> ${Math.round(caseDisk.probe(label, 'after'))}`);
  }
  printTable(rows);
  const seconds = (performance.now() - started) / 1000;
  const waited = (disk?.waitedMs ?? 0) / 1000;
  process.stdout.write(
    `\n${seconds.toFixed(0)} s in all${waited > 0 ? ` (${waited.toFixed(0)} s of it waiting for the disk)` : ''}` +
      `${seconds - waited > 300 ? ' (over the ~5 minute budget)' : ''}; MAIL_DIRs under ${flags.tmp}; smtp-source sends one connection per message unless -d.\n`,
  );
  if (disk) {
    process.stdout.write(
      `File create in ${flags.tmp}, µs per file, before -> after each case: ${caseProbes.join('; ')} (${slowCreateMicros} or more: slow, figures unrepresentative).\n`,
    );
  }
  if (failures.length > 0) {
    process.stderr.write(
      `\nbench: ${failures.length} case(s) FAILED:\n${failures.map((f) => `  ${f.split('\n')[0]}`).join('\n')}\n`,
    );
    process.exitCode = 1;
  }
}

await main();
