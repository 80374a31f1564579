/**
 * The store's index: start-up of the CLI over a MAIL_DIR already holding many messages (time to
 * listening, to the index being complete, resident memory then), and how soon a change another
 * process makes (Python's mailbox.MH.add) reaches the change stream, in process.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, startChild, stopChild } from '../lib/children.js';
import { storedMailDir, type StoredMailShape } from '../lib/maildir.js';
import { residentBytes, serverEnv } from '../lib/servers.js';
import { median, mib, ms, percentile } from '../lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from '../lib/types.js';

export function indexStartupCase(
  options: StoredMailShape & { targetListeningMs: number; targetIndexMs: number; targetRssBytes: number },
): BenchCase {
  const title = `(h) start-up over ${options.messages.toLocaleString('en')} stored messages in ${options.mailboxes.toLocaleString('en')} mailboxes`;
  return {
    id: 'h',
    title,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      ctx.progress(`${title}: writing the MAIL_DIR (once)`);
      const mailDir = storedMailDir(ctx.tempRoot, options);
      const listening: number[] = [];
      const indexed: number[] = [];
      const rss: number[] = [];
      for (let run = 1; run <= ctx.runs; run++) {
        const port = await freePort();
        const started = performance.now();
        const child = startChild(
          process.execPath,
          [ctx.cliPath, mailDir, '--smtp-port', String(port), '--http-port', '0'],
          {
            env: { ...serverEnv(), LOG_LEVEL: 'INFO' },
            cwd: ctx.repoRoot,
          },
        );
        try {
          const [{ at: listeningAt }, { at: indexedAt }] = await Promise.all([
            child.logged(/SMTP listening on /),
            child.logged(/INFO Indexed \d+ messages/),
          ]);
          listening.push(listeningAt - started);
          indexed.push(indexedAt - started);
          rss.push(residentBytes(child.pid) ?? Number.NaN);
          ctx.progress(
            `  run ${run}: listening ${ms(listeningAt - started)}, index complete ${ms(indexedAt - started)}, ${mib(rss.at(-1)!)} resident`,
          );
        } finally {
          await stopChild(child);
        }
      }
      const [l, i, r] = [median(listening), median(indexed), median(rss)];
      return [
        {
          name: 'start-up over stored mail: listening',
          ours: ms(l),
          target: `< ${ms(options.targetListeningMs)}`,
          met: l < options.targetListeningMs,
        },
        {
          name: 'start-up over stored mail: index complete',
          ours: ms(i),
          target: `< ${ms(options.targetIndexMs)}`,
          met: i < options.targetIndexMs,
        },
        {
          name: 'resident memory, index complete',
          ours: mib(r),
          target: `< ${mib(options.targetRssBytes)}`,
          met: r < options.targetRssBytes,
        },
      ];
    },
  };
}

export function outsideChangeCase(options: { changes: number; targetP50Ms: number }): BenchCase {
  const title = `(i) an outside mailbox.MH.add -> the store's change event, ${options.changes} adds, in-process`;
  return {
    id: 'i',
    title,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      const { startTestMailServer } = await import('../../src/index.js');
      const mailDir = path.join(ctx.tempRoot, 'outside-changes');
      const mail = await startTestMailServer({ mailDir, logLevel: 'error' });
      // One Python process adds a message per line it reads and prints the wall-clock time just before each add.
      const script = [
        'import mailbox, os, sys, time',
        'box = mailbox.MH(sys.argv[1], create=True)',
        'for line in sys.stdin:',
        '    print(time.time() * 1000, flush=True)',
        '    box.add(b"Subject: outside\\n\\nhello\\n")',
      ].join('\n');
      const folder = path.join(mailDir, 'outside.test', 'py');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(path.dirname(folder), { recursive: true });
      const python = spawn('python3', ['-c', script, folder], { stdio: ['pipe', 'pipe', 'inherit'] });
      const addedAt = createInterface({ input: python.stdout });
      const latencies: number[] = [];
      try {
        await mail.store.indexed;
        for (let i = 0; i < options.changes; i++) {
          const seen = new Promise<number>((resolve) => {
            const watch = mail.store.watch({ mailbox: 'py@outside.test' }, (change) => {
              if (change.kind !== 'added') return;
              watch.close();
              resolve(performance.timeOrigin + performance.now());
            });
          });
          const before = new Promise<number>((resolve) => addedAt.once('line', (line) => resolve(Number(line))));
          python.stdin.write('add\n');
          const [wrote, arrived] = await Promise.all([before, seen]);
          latencies.push(arrived - wrote);
        }
      } finally {
        python.stdin.end();
        await mail.close();
      }
      const p50 = percentile(latencies, 50);
      ctx.progress(`  p50 ${ms(p50)}, p99 ${ms(percentile(latencies, 99))}, max ${ms(Math.max(...latencies))}`);
      return [
        {
          name: 'outside change -> change event, p50',
          ours: ms(p50),
          target: `< ${ms(options.targetP50Ms)}`,
          met: p50 < options.targetP50Ms,
        },
        { name: 'outside change -> change event, p99', ours: ms(percentile(latencies, 99)), target: '' },
      ];
    },
  };
}
