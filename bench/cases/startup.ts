/**
 * Start-up time: from spawning `node dist/cli.js MAIL_DIR --smtp-port PORT` (a MAIL_DIR that does
 * not exist yet, as on a first run) to reading the 220 greeting over TCP, polling connect; and,
 * reported beside it, to the server having finished starting (the process gone quiet: what runs
 * after the greeting, the first scan of MAIL_DIR and V8's compiler threads, done).
 */
import * as path from 'node:path';
import { freePort, stopChild, waitForGreeting } from '../lib/children.js';
import { spawnOurServer, waitUntilSettled } from '../lib/servers.js';
import { median, ms } from '../lib/stats.js';
import type { BenchCase, BenchContext, ResultRow } from '../lib/types.js';

export function startupCase(options: { minRuns: number; targetMs: number }): BenchCase {
  const title = 'start-up: spawn node dist/cli.js -> 220 greeting';
  return {
    id: 'startup',
    title,
    async run(ctx: BenchContext): Promise<ResultRow[]> {
      const runs = Math.max(options.minRuns, ctx.runs);
      ctx.progress(`${title} (${runs} runs)`);
      const times: number[] = [];
      const settledTimes: number[] = [];
      for (let run = 1; run <= runs; run++) {
        const mailDir = path.join(ctx.tempRoot, `startup-${run}`, 'mail');
        let elapsed: number | undefined;
        let settled: number | undefined;
        for (let attempt = 0; attempt < 3 && elapsed === undefined; attempt++) {
          const port = await freePort();
          const started = performance.now();
          const child = spawnOurServer({ cliPath: ctx.cliPath, repoRoot: ctx.repoRoot, mailDir }, port);
          try {
            elapsed = (await waitForGreeting(port, child)) - started;
            const quietAt = await waitUntilSettled(child);
            settled = quietAt === undefined ? undefined : quietAt - started;
          } catch (error) {
            // Another process may have taken the port between freePort() and the spawn: retry.
            if (attempt === 2) throw error;
          } finally {
            await stopChild(child);
          }
        }
        times.push(elapsed!);
        // A server still busy after 10 s is reported as such rather than left out of the median.
        settledTimes.push(settled ?? Infinity);
      }
      const value = median(times);
      const settledValue = median(settledTimes);
      ctx.progress(`  ${runs} runs: ${times.map((t) => ms(t)).join(', ')}`);
      ctx.progress(`  finished starting: ${settledTimes.map((t) => (t === Infinity ? '> 10 s' : ms(t))).join(', ')}`);
      return [
        {
          name: `start-up to 220 greeting (median of ${runs})`,
          ours: ms(value),
          target: `< ${ms(options.targetMs)}`,
          met: value < options.targetMs,
        },
        {
          name: `start-up to finished starting: the process quiet (median of ${runs})`,
          ours: settledValue === Infinity ? '> 10 s' : ms(settledValue),
          target: '-',
        },
      ];
    },
  };
}
