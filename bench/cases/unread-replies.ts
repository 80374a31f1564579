/**
 * Memory under a client that pipelines commands and never reads the replies: the peak resident
 * set (VmHWM) of our CLI server once that client's writes have stalled, against the server's
 * peak before the flood. The server stops reading a client whose replies are not drained, so
 * the figure stays bounded however much the client sends; afterwards the client reads, and
 * every reply must arrive.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { peakRss, startOurServer } from '../lib/servers.js';
import { count, median, mib } from '../lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from '../lib/types.js';

export interface UnreadRepliesSpec {
  readonly id: string;
  /** Bytes of pipelined commands, well past what the kernel's socket buffers hold. */
  readonly floodBytes: number;
  /** Its replies' size, for the title (each EHLO is answered with about 190 bytes). */
  readonly replyBytes: number;
  readonly peakRssTargetBytes: number;
}

/** EHLO: a short command with a long reply, the costliest thing to leave unread. */
const ehlo = 'EHLO bench.test\r\n';
/** The client's writes count as stalled when its unsent bytes have not moved for this long. */
const stallMs = 2000;
const readTimeoutMs = 120_000;

export function unreadRepliesCase(spec: UnreadRepliesSpec): BenchCase {
  const commands = Math.ceil(spec.floodBytes / ehlo.length);
  const title =
    `(${spec.id}) peak RSS while a client pipelines ${count(commands)} EHLOs ` +
    `(${mib(spec.floodBytes)}, ~${mib(spec.replyBytes)} of replies) and reads none`;
  return {
    id: spec.id,
    title,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      ctx.progress(title);
      const idle: number[] = [];
      const flooded: number[] = [];
      for (let run = 1; run <= ctx.runs; run++) {
        const peaks = await measure(ctx, run, commands);
        idle.push(peaks.idle);
        flooded.push(peaks.flooded);
        ctx.progress(`  run ${run}/${ctx.runs}: peak RSS ${mib(peaks.idle)} before, ${mib(peaks.flooded)} flooded`);
      }
      const value = median(flooded);
      return [
        {
          name: title,
          ours: `${mib(value)} (max ${mib(Math.max(...flooded))}; ${mib(median(idle))} before)`,
          target: `< ${mib(spec.peakRssTargetBytes).replace('.0 ', ' ')}`,
          met: value < spec.peakRssTargetBytes,
        },
      ];
    },
  };
}

async function measure(ctx: BenchContext, run: number, commands: number): Promise<{ idle: number; flooded: number }> {
  const mailDir = path.join(ctx.tempRoot, `unread-replies-${run}`);
  const server = await startOurServer({ cliPath: ctx.cliPath, repoRoot: ctx.repoRoot, mailDir });
  const client = net.connect(server.port, '127.0.0.1');
  try {
    await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
    // One EHLO read as usual first: its reply's lines tell how many lines the flood is owed.
    const replyLines = await firstReplyLines(client);
    const idle = rssOf(server.child.pid);
    client.write(ehlo.repeat(commands));
    await stalled(client);
    const flooded = rssOf(server.child.pid);
    await readAll(client, commands * replyLines);
    return { idle, flooded };
  } finally {
    client.destroy();
    await server.stop();
  }
}

function rssOf(pid: number): number {
  const peak = peakRss(pid);
  if (peak === undefined) throw new Error(`cannot read VmHWM from /proc/${pid}/status`);
  return peak;
}

/** Waits until the client's unsent bytes stop moving (the server stopped reading) or are all sent. */
async function stalled(client: net.Socket): Promise<void> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    await sleep(100);
    const unsent = client.writableLength;
    if (unsent !== last) [last, since] = [unsent, performance.now()];
    else if (performance.now() - since >= stallMs) return;
  }
}

/** Sends one EHLO and reads the greeting and its reply; leaves the socket paused. Its reply's line count. */
async function firstReplyLines(client: net.Socket): Promise<number> {
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!/\r\n250 [^\r]*\r\n$/.test(text)) return;
      client.pause().removeListener('data', onData).removeListener('close', reject);
      resolve();
    };
    client.on('data', onData).once('close', reject);
    client.write(ehlo);
  });
  return text.split('\r\n').length - 2;
}

/** Reads until `lines` reply lines have arrived. */
async function readAll(client: net.Socket, lines: number): Promise<void> {
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${count(seen)} of ${count(lines)} replies in ${readTimeoutMs / 1000} s`)),
      readTimeoutMs,
    );
    client.on('data', (chunk: Buffer) => {
      for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) seen++;
      if (seen < lines) return;
      clearTimeout(timer);
      resolve();
    });
    client.once('close', () => reject(new Error(`connection closed after ${count(seen)} of ${count(lines)} replies`)));
    client.resume();
  });
}
