/**
 * Delivery latency as a test sees it: from the client writing the final "\r\n.\r\n" to
 * `mail.waitForMessage({ to })` resolving, in process, with the library API. Messages go one
 * after another over one connection, each to its own address; waitForMessage is called in the
 * same tick as the final write (as a test that sends, then waits, would).
 */
import { mkdtemp } from 'node:fs/promises';
import * as path from 'node:path';
import { flushDisks } from '../lib/children.js';
import { RawSmtp } from '../../test/helpers.js';
import { count, median, ms, percentile } from '../lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from '../lib/types.js';
import { verifyMailDir } from '../lib/verify.js';

const domain = 'bench.test';

/** About `bytes` of body: 78 X's per line, CRLF-separated, no trailing CRLF (the final dot line adds it). */
function body(bytes: number): string {
  const line = 'X'.repeat(78);
  return Array.from({ length: Math.max(1, Math.round(bytes / 80)) }, () => line).join('\r\n');
}

/** The reply, or an error naming what came instead of `code`. */
async function expectReply(reply: Promise<string>, code: number): Promise<string> {
  const text = await reply;
  if (!text.startsWith(String(code))) throw new Error(`expected ${code}, got "${text}"`);
  return text;
}

export function latencyCase(options: {
  id: string;
  messages: number;
  bodyBytes: number;
  targetP50Ms: number;
}): BenchCase {
  const title = `(${options.id}) "." -> waitForMessage, ${count(options.messages)} msgs one by one, in-process`;
  return {
    id: options.id,
    title,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      // Imported here, not at the top, so a work-in-progress src/ only breaks this case.
      const { startTestMailServer } = await import('../../src/index.js');
      const text = body(options.bodyBytes);
      const p50s: number[] = [];
      const p99s: number[] = [];
      ctx.progress(`${title}, filter { to: address }`);
      for (let run = 1; run <= ctx.runs; run++) {
        const mailDir = await mkdtemp(path.join(ctx.tempRoot, `case-${options.id}-run${run}-`));
        flushDisks();
        const mail = await startTestMailServer({ mailDir, logLevel: 'error' });
        const latencies: number[] = [];
        /** Final "." to the 250 reply: the delivery alone, without the waiter. */
        const replyTimes: number[] = [];
        let client: RawSmtp | undefined;
        try {
          client = await RawSmtp.connect(mail.smtpPort);
          await expectReply(client.reply(), 220);
          await expectReply(client.command(`EHLO client.${domain}`), 250);
          for (let i = 1; i <= options.messages; i++) {
            const local = `latency-${i}`;
            const address = `${local}@${domain}`;
            const subject = `latency ${run}.${i}`;
            await expectReply(client.command(`MAIL FROM:<sender@${domain}>`), 250);
            await expectReply(client.command(`RCPT TO:<${address}>`), 250);
            await expectReply(client.command('DATA'), 354);
            client.send(
              Buffer.from(
                `From: <sender@${domain}>\r\nTo: <${address}>\r\nSubject: ${subject}\r\nMessage-ID: <${run}.${i}@${domain}>\r\n\r\n${text}`,
              ),
            );
            let resolvedAt = 0;
            const sentAt = performance.now();
            client.send(Buffer.from('\r\n.\r\n'));
            const waited = mail.waitForMessage({ to: address }, { timeout: 10_000 }).then((message) => {
              resolvedAt = performance.now();
              return message;
            });
            const replied = expectReply(client.reply(), 250).then(() => replyTimes.push(performance.now() - sentAt));
            const [message] = await Promise.all([waited, replied]);
            if (message.subject !== subject)
              throw new Error(
                `waitForMessage({ to: ${address} }) returned "${message.subject}", expected "${subject}"`,
              );
            latencies.push(resolvedAt - sentAt);
          }
          await expectReply(client.command('QUIT'), 221);
          client.close();
          client = undefined;
          const expected = new Map(
            Array.from({ length: options.messages }, (_, i) => [`latency-${i + 1}`, 1] as const),
          );
          verifyMailDir(mailDir, { domain, mailboxes: expected, minBytes: text.length, maxBytes: text.length + 4096 });
        } finally {
          client?.close();
          await mail.close();
        }
        const p50 = percentile(latencies, 50);
        const p99 = percentile(latencies, 99);
        p50s.push(p50);
        p99s.push(p99);
        const tenth = Math.max(1, Math.floor(latencies.length / 10));
        ctx.progress(
          `  run ${run}/${ctx.runs}: p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(Math.max(...latencies))}; ` +
            `p50 of the first ${tenth} ${ms(percentile(latencies.slice(0, tenth), 50))}, of the last ${tenth} ${ms(percentile(latencies.slice(-tenth), 50))}; ` +
            `"." -> 250 reply p50 ${ms(percentile(replyTimes, 50))}; ${count(options.messages)} files verified`,
        );
      }
      const p50 = median(p50s);
      return [
        {
          name: `${title}: p50`,
          ours: ms(p50),
          target: `< ${ms(options.targetP50Ms)}`,
          met: p50 < options.targetP50Ms,
        },
        { name: `    p99`, ours: ms(median(p99s)), target: '-' },
      ];
    },
  };
}
