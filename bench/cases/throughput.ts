/**
 * Throughput against smtp-sink: the same smtp-source load, run against smtp-sink (the ceiling)
 * and against our CLI server, alternating, each run on a fresh process and port; our runs get a
 * fresh MAIL_DIR that is verified file by file afterwards. Our server is measured once it has
 * finished starting (see `waitUntilSettled`). With `--against`, both builds' servers run side by
 * side and the load goes to them in slices, taking turns (see `measureInTurns`).
 */
import { mkdtemp } from 'node:fs/promises';
import * as path from 'node:path';
import { flushDisks } from '../lib/children.js';
import { peakRss, runSmtpSource, startOurServer, startSink, waitUntilSettled } from '../lib/servers.js';
import { count, median, mib, rate } from '../lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from '../lib/types.js';
import { verifyMailDir, type ExpectedMail } from '../lib/verify.js';

export interface ThroughputSpec {
  readonly id: string;
  readonly messages: number;
  /** Body bytes per message (smtp-source -l). */
  readonly bytes: number;
  /** Parallel SMTP sessions (smtp-source -s). */
  readonly sessions: number;
  /** Recipients per message (smtp-source -r). */
  readonly recipients: number;
  /** Keep the connection for the next message (smtp-source -d); otherwise one connection per message. */
  readonly reuseConnections: boolean;
  /** Our messages/s as a percentage of smtp-sink's; undefined: reported only. */
  readonly targetShare?: number;
  /** Also report our server's peak RSS (VmHWM) over the runs, against this limit. */
  readonly peakRssTargetBytes?: number;
}

const domain = 'bench.test';
const recipient = `rcpt@${domain}`;
const sender = `sender@${domain}`;
/** Generous: each run is bounded, and a stuck run fails the case instead of hanging the bench. */
const runTimeoutMs = 240_000;

function kib(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

export function describe(spec: ThroughputSpec): string {
  const parts = [
    `${count(spec.messages)} x ${kib(spec.bytes)}`,
    `${spec.sessions} session${spec.sessions === 1 ? '' : 's'}`,
    `${spec.recipients} rcpt${spec.recipients === 1 ? '' : 's'}`,
    spec.reuseConnections ? 'reused conns (-d)' : 'conn per msg',
  ];
  return `(${spec.id}) ${parts.join(', ')}`;
}

/** The smtp-source arguments for `messages` of the case's messages, without the server address. */
export function sourceArgs(spec: ThroughputSpec, messages = spec.messages): string[] {
  return [
    '-s',
    String(spec.sessions),
    '-m',
    String(messages),
    '-l',
    String(spec.bytes),
    '-r',
    String(spec.recipients),
    '-f',
    sender,
    '-t',
    recipient,
    ...(spec.reuseConnections ? ['-d'] : []),
  ];
}

/**
 * Where smtp-source's messages land. With -r R (and no -N) it sends the -t address itself plus
 * R-1 variants with a number prepended: rcpt, 2rcpt, ..., Rrcpt. Every transaction repeats them.
 */
export function expectedMail(spec: ThroughputSpec): ExpectedMail {
  const [local] = recipient.split('@') as [string];
  const mailboxes = new Map<string, number>([[local, spec.messages]]);
  for (let n = 2; n <= spec.recipients; n++) mailboxes.set(`${n}${local}`, spec.messages);
  // The body is exactly -l bytes; headers from smtp-source and our trace headers add a few hundred.
  return { domain, mailboxes, minBytes: spec.bytes, maxBytes: spec.bytes + 4096 };
}

/** One CLI's figures over the runs of a case. */
interface Measured {
  readonly label: string;
  readonly cliPath: string;
  readonly rates: number[];
  readonly peaks: number[];
}

export function throughputCase(spec: ThroughputSpec): BenchCase {
  const title = describe(spec);
  return {
    id: spec.id,
    title,
    diskBound: true,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      const args = sourceArgs(spec);
      const expected = expectedMail(spec);
      const sinkRates: number[] = [];
      const measured: Measured[] = [{ label: 'ours', cliPath: ctx.cliPath, rates: [], peaks: [] }];
      if (ctx.againstCliPath) measured.push({ label: 'against', cliPath: ctx.againstCliPath, rates: [], peaks: [] });
      ctx.progress(`${title}: smtp-source ${args.join(' ')} 127.0.0.1:PORT`);
      for (let run = 1; run <= ctx.runs; run++) {
        flushDisks();
        const sink = await startSink(ctx.tools);
        let sinkSeconds: number;
        try {
          sinkSeconds = await runSmtpSource(ctx.tools, args, sink.port, runTimeoutMs);
        } finally {
          await sink.stop();
        }
        sinkRates.push(spec.messages / sinkSeconds);
        const parts = [`smtp-sink ${rate(spec.messages / sinkSeconds)} (${sinkSeconds.toFixed(2)} s)`];
        // Taking turns at going first, so that a drift in the machine's speed favours neither.
        const order = run % 2 === 1 ? measured : [...measured].reverse();
        const results = await measureInTurns(ctx, spec, expected, order, run);
        order.forEach((server, i) => {
          const { seconds, files, peak } = results[i];
          server.rates.push(spec.messages / seconds);
          if (spec.peakRssTargetBytes !== undefined) server.peaks.push(peak);
          parts.push(
            `${server.label} ${rate(spec.messages / seconds)} (${seconds.toFixed(2)} s), ${count(files)} files verified` +
              (spec.peakRssTargetBytes !== undefined ? `, peak RSS ${mib(peak)}` : ''),
          );
        });
        ctx.progress(`  run ${run}/${ctx.runs}: ${parts.join(', ')}`);
      }
      const sinkMedian = median(sinkRates);
      const [ours, against] = measured as [Measured, Measured | undefined];
      const ourMedian = median(ours.rates);
      const share = (100 * ourMedian) / sinkMedian;
      const rows: ResultRow[] = [
        {
          name: title,
          sink: rate(sinkMedian),
          ours: rate(ourMedian),
          share: `${share.toFixed(1)}%`,
          target: spec.targetShare === undefined ? '-' : `>= ${spec.targetShare}%`,
          met: spec.targetShare === undefined ? undefined : share >= spec.targetShare,
        },
      ];
      if (against) {
        const againstMedian = median(against.rates);
        const change = 100 * (ourMedian / againstMedian - 1);
        // Each of our runs over the --against run beside it: less swayed by the machine's drift between runs.
        const runByRun = 100 * median(ours.rates.map((r, i) => r / against.rates[i] - 1));
        rows.push({
          name: `    --against in the same runs (ours ${signed(change)}%, run by run ${signed(runByRun)}%)`,
          sink: rate(sinkMedian),
          ours: rate(againstMedian),
          share: `${((100 * againstMedian) / sinkMedian).toFixed(1)}%`,
          target: '-',
        });
      }
      if (spec.peakRssTargetBytes !== undefined) {
        for (const server of measured) {
          const peakMedian = median(server.peaks);
          const whose = server === ours ? 'our server' : '--against';
          rows.push({
            name: `    peak RSS of ${whose} during (${spec.id})`,
            ours: `${mib(peakMedian)} (max ${mib(Math.max(...server.peaks))})`,
            target: `< ${mib(spec.peakRssTargetBytes).replace('.0 ', ' ')}`,
            met: peakMedian < spec.peakRssTargetBytes,
          });
        }
      }
      return rows;
    },
  };
}

/**
 * Side by side, each build's server gets this many slices of the load per run, in turns (ABBA):
 * this VM's speed can halve and recover within seconds, and slices a second or two apart see
 * much the same machine where whole runs ten seconds apart often do not.
 */
const slicesSideBySide = 4;

/**
 * One run of the case against a fresh server of each CLI, started together and measured once
 * finished starting: one server takes the whole load in one smtp-source run; several take it in
 * slices, in turns, each slice sent once every server is quiet again (so that no server's
 * after-work, such as V8 finishing its compiles, lands in another's slice). Each server's time is
 * the sum of its slices. Every file is checked afterwards.
 */
async function measureInTurns(
  ctx: BenchContext,
  spec: ThroughputSpec,
  expected: ExpectedMail,
  servers: readonly Measured[],
  run: number,
): Promise<Array<{ seconds: number; files: number; peak: number }>> {
  const slices = servers.length > 1 ? slicesSideBySide : 1;
  if (spec.messages % slices !== 0)
    throw new Error(`(${spec.id}): ${spec.messages} messages do not split into ${slices} slices`);
  const args = sourceArgs(spec, spec.messages / slices);
  const mailDirs = await Promise.all(servers.map(() => mkdtemp(path.join(ctx.tempRoot, `case-${spec.id}-run${run}-`))));
  flushDisks();
  const started = await Promise.allSettled(
    servers.map((server, i) =>
      startOurServer({ cliPath: server.cliPath, repoRoot: ctx.repoRoot, mailDir: mailDirs[i] }),
    ),
  );
  const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const seconds = servers.map(() => 0);
    const inOrder = running.map((_, i) => i);
    for (let slice = 0; slice < slices; slice++) {
      for (const i of slice % 2 === 0 ? inOrder : [...inOrder].reverse()) {
        const quiet = await Promise.all(running.map((server) => waitUntilSettled(server.child)));
        if (quiet.includes(undefined)) ctx.progress('  (a server was still busy after 10 s; measuring anyway)');
        seconds[i] += await runSmtpSource(ctx.tools, args, running[i].port, runTimeoutMs);
      }
    }
    return running.map((server, i) => {
      const peak = peakRss(server.child.pid);
      if (peak === undefined) throw new Error(`cannot read VmHWM from /proc/${server.child.pid}/status`);
      // smtp-source has had a 250 for every message, so every file must be there now.
      return { seconds: seconds[i], files: verifyMailDir(mailDirs[i], expected).files, peak };
    });
  } finally {
    await Promise.all(running.map((server) => server.stop()));
  }
}

function signed(percent: number): string {
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)}`;
}
