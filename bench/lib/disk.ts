/**
 * How fast files can be created where the MAIL_DIRs go. Our server creates a file per delivered
 * copy, so this sets the pace of the throughput cases, and on ext4 without a journal it can drop
 * tenfold for about a minute after many files were deleted nearby: allocating an inode, the kernel
 * skips free inodes deleted less than 60 s ago (360 s while their inode-table block is unwritten),
 * rechecking each of them on every create (fs/ext4/ialloc.c, recently_deleted). A bench started
 * then measures the last rm -rf rather than the server, hence the probe and the wait.
 */
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { flushDisks } from './children.js';

export const probeFiles = 300;
const probeContent = Buffer.alloc(2 * 1024, 'x');
/**
 * Creates cost 20-45 µs on this VM's disk normally and 250-700 µs in the slow state; at 60-80 µs
 * the server already lost half its rate in (a) and (c), as the probe's clean blocks understate it.
 */
export const slowCreateMicros = 60;
const reprobeMs = 5_000;

/**
 * Microseconds per file to create, write and close `probeFiles` files of 2 KiB in a fresh folder
 * under root. The files stay (they go with root at exit): deleting them would cause the slow state.
 */
export function probeFileCreate(root: string): number {
  // As each throughput run does first; it also makes the freed inodes count as recent for 60 s, not 360 s.
  flushDisks();
  const dir = mkdtempSync(path.join(root, 'disk-probe-'));
  const started = performance.now();
  for (let i = 0; i < probeFiles; i++) {
    const fd = openSync(path.join(dir, String(i)), 'wx');
    try {
      writeSync(fd, probeContent);
    } finally {
      closeSync(fd);
    }
  }
  return ((performance.now() - started) * 1000) / probeFiles;
}

/** Re-probes every few seconds until creates are fast again or about maxWaitMs have passed. */
export async function waitForFastCreates(
  root: string,
  maxWaitMs: number,
): Promise<{ micros: number; waitedMs: number }> {
  const started = performance.now();
  let micros: number;
  do {
    await sleep(reprobeMs);
    micros = probeFileCreate(root);
  } while (micros >= slowCreateMicros && performance.now() - started < maxWaitMs);
  return { micros, waitedMs: performance.now() - started };
}
