/**
 * The HTTP API over a large MAIL_DIR: 100,000 messages in 1,000 mailboxes, written directly in
 * MH layout (bench/lib/maildir.ts), served by the built CLI as a separate process. Once its index
 * is built: the first page of `/api/v1/messages` and a search for a word in the body (each the
 * p50 of 20 requests), the server's resident memory, and from the SMTP 250 reply to the
 * WebSocket `new` event for messages sent one by one (p50, p99).
 */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { RawSmtp } from '../../test/helpers.js';
import { startChild, stopChild } from '../lib/children.js';
import { needle, needleEvery, storedMailDir } from '../lib/maildir.js';
import { residentBytes, serverEnv } from '../lib/servers.js';
import { count, mib, ms, percentile } from '../lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from '../lib/types.js';

const eventsDomain = 'events.test';

export interface HttpCaseOptions {
  readonly messages: number;
  readonly mailboxes: number;
  readonly requests: number;
  /** Messages sent one by one for the event latency. */
  readonly events: number;
  readonly targets: { firstPageMs: number; searchMs: number; rssBytes: number; eventP50Ms: number };
}

export function httpCase(options: HttpCaseOptions): BenchCase {
  const title = `(http) ${count(options.messages)} stored messages in ${count(options.mailboxes)} mailboxes, HTTP API`;
  return {
    id: 'http',
    title,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      ctx.progress(`${title}: writing the MAIL_DIR (once)`);
      const mailDir = storedMailDir(ctx.tempRoot, options);
      // The messages sent for the event latency go to a domain of their own, removed afterwards: the stored mail is shared.
      const eventsDir = path.join(mailDir, eventsDomain);
      const server = startChild(process.execPath, [ctx.cliPath, mailDir, '--smtp-port', '0', '--http-port', '0'], {
        env: { ...serverEnv(), LOG_LEVEL: 'INFO' },
        cwd: ctx.repoRoot,
      });
      try {
        const [, smtpPort] = (await server.logged(/SMTP listening on [^\s]+:(\d+)/)).match;
        const [, httpPort] = (await server.logged(/HTTP listening on [^\s]+:(\d+)/)).match;
        const [indexed] = (await server.logged(/Indexed \d+ messages in \d+ mailboxes in [\d.]+ s/)).match;
        ctx.progress(`  ${indexed}`);
        const base = `http://127.0.0.1:${httpPort}`;
        const firstPage = await requestTimes(base, '/api/v1/messages', options.requests, options.messages);
        ctx.progress(`  first page: p50 ${ms(percentile(firstPage, 50))}, max ${ms(Math.max(...firstPage))}`);
        const searched = `/api/v1/search?query=${needle}`;
        const search = await requestTimes(base, searched, options.requests, Math.floor(options.messages / needleEvery));
        ctx.progress(`  body-word search: p50 ${ms(percentile(search, 50))}, max ${ms(Math.max(...search))}`);
        const rss = residentBytes(server.pid) ?? Number.NaN;
        ctx.progress(`  resident memory ${mib(rss)}`);
        const events = await eventLatencies(base, Number(smtpPort), options.events);
        ctx.progress(
          `  SMTP 250 -> WebSocket new, ${options.events} messages: p50 ${ms(percentile(events, 50))}, p99 ${ms(percentile(events, 99))}; ${events.filter((latency) => latency === 0).length} came before the 250`,
        );
        const { targets } = options;
        return [
          row(`${title}: first page (p50 of ${options.requests})`, percentile(firstPage, 50), targets.firstPageMs),
          row(`    search for a body word (p50 of ${options.requests})`, percentile(search, 50), targets.searchMs),
          {
            name: '    resident memory, index built, after those',
            ours: mib(rss),
            target: `< ${mib(targets.rssBytes)}`,
            met: rss < targets.rssBytes,
          },
          row(`    SMTP 250 -> WebSocket new event, p50`, percentile(events, 50), targets.eventP50Ms),
          { name: '    p99', ours: ms(percentile(events, 99)), target: '-' },
        ];
      } finally {
        await stopChild(server);
        await rm(eventsDir, { recursive: true, force: true });
      }
    },
  };
}

function row(name: string, value: number, targetMs: number): ResultRow {
  return { name, ours: ms(value), target: `< ${ms(targetMs)}`, met: value < targetMs };
}

/** Times `requests` GETs one after another; each answer must count `expected` matches. */
async function requestTimes(base: string, route: string, requests: number, expected: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await fetch(`${base}${route}`);
    const body = (await response.json()) as { messages_count: number; messages: unknown[] };
    times.push(performance.now() - started);
    if (response.status !== 200 || body.messages_count !== expected || body.messages.length !== 50)
      throw new Error(`GET ${route}: ${response.status}, ${body.messages_count} of ${expected} matched`);
  }
  return times;
}

/** For messages sent one by one over one connection: from the 250 reply to the WebSocket `new` event naming it. */
async function eventLatencies(base: string, smtpPort: number, messages: number): Promise<number[]> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/events`);
  const seen = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  socket.on('message', (data: Buffer) => {
    const event = JSON.parse(data.toString()) as { Type: string; Data: { Subject?: string } | null };
    const subject = event.Type === 'new' ? event.Data?.Subject : undefined;
    if (subject === undefined) return;
    seen.set(subject, performance.now());
    waiting.get(subject)?.();
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const smtp = await RawSmtp.connect(smtpPort);
  const latencies: number[] = [];
  try {
    expect(await smtp.reply(), '220');
    expect(await smtp.command('EHLO client.bench.test'), '250');
    for (let i = 0; i < messages; i++) {
      const subject = `event ${i}`;
      const event = new Promise<void>((resolve) => (seen.has(subject) ? resolve() : waiting.set(subject, resolve)));
      expect(await smtp.command(`MAIL FROM:<sender@${eventsDomain}>`), '250');
      expect(await smtp.command(`RCPT TO:<events${i % 10}@${eventsDomain}>`), '250');
      expect(await smtp.command('DATA'), '354');
      smtp.send(Buffer.from(`Subject: ${subject}\r\nFrom: sender@${eventsDomain}\r\n\r\nhello\r\n`));
      expect(await smtp.command('.'), '250');
      const replied = performance.now();
      await Promise.race([
        event,
        sleep(10_000).then(() => Promise.reject(new Error(`no new event for "${subject}" within 10 s`))),
      ]);
      // An event that came before the reply (the store announces before SMTP answers) counts as no wait at all.
      latencies.push(Math.max(0, seen.get(subject)! - replied));
      waiting.delete(subject);
    }
    expect(await smtp.command('QUIT'), '221');
  } finally {
    smtp.close();
    socket.close();
  }
  return latencies;
}

function expect(reply: string, code: string): void {
  if (!reply.startsWith(code)) throw new Error(`expected ${code}, got "${reply}"`);
}
