/** Shared by the store's tests: deliveries straight to a MailStore, Python holding folder locks, log lines to wait for, tmpfs mounts. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { rmdir } from 'node:fs/promises';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger, type Logger } from '../../src/log.js';
import type { MailboxName } from '../../src/mailbox/address.js';
import type { IndexedMessage } from '../../src/mailbox/reader.js';
import type { MailStore } from '../../src/mailbox/store.js';
import type { Trace } from '../../src/mailbox/trace.js';
import { run, tempDir } from '../helpers.js';

export const quiet = createLogger('error');

export const trace: Trace = {
  heloName: 'c.test',
  clientAddress: '127.0.0.1',
  serverName: 'here',
  protocol: 'ESMTP',
  id: 'ID1',
  receivedAt: new Date(0),
};

export function recipient(store: MailStore, address: string): MailboxName {
  const check = store.check(address);
  assert.ok(check.ok, address);
  return check.mailbox;
}

export async function deliver(
  store: MailStore,
  to: string[],
  body: string | Buffer = 'Subject: s\r\n\r\nbody\r\n',
): Promise<IndexedMessage[]> {
  const incoming = store.receive();
  incoming.write(Buffer.from(body));
  return store.deliver(incoming, { from: 'a@b.test', to: to.map((address) => recipient(store, address)) }, trace);
}

/** Resolves once `dir`'s entries satisfy `done`, re-checking on every change (inotify, no polling). */
export function whenDir(
  dir: string,
  done: (entries: string[]) => boolean,
  what: string,
  limitMs = 10_000,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(dir);
    const finish = (error?: Error, entries?: string[]) => {
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error);
      else resolve(entries!);
    };
    const check = () => {
      const entries = fs.readdirSync(dir);
      if (done(entries)) finish(undefined, entries);
    };
    const timer = setTimeout(
      () => finish(new Error(`${dir}: still not ${what} after ${limitMs} ms: ${fs.readdirSync(dir).join(', ')}`)),
      limitMs,
    );
    watcher.on('change', check);
    watcher.on('error', (error) => finish(error));
    check();
  });
}

/** A logger whose lines a test can wait for. */
export class WatchedLog {
  readonly lines: string[] = [];
  readonly log: Logger;
  private readonly waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];

  constructor(level: 'debug' | 'warning' = 'debug') {
    this.log = createLogger(level, (line) => {
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        if (!waiter.pattern.test(line)) continue;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    });
  }

  /** The first line matching `pattern`, logged already or to come. */
  line(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }));
  }
}

/**
 * Python holding `mailbox.MH.lock()` on folders (made if missing) until told otherwise: the
 * locker other tools use, in another process.
 */
export class PythonLock {
  private readonly replies: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async hold(folders: readonly string[]): Promise<PythonLock> {
    const script = [
      'import mailbox, os, sys',
      'for p in sys.argv[1:]: os.makedirs(os.path.dirname(p), exist_ok=True)',
      'boxes = [mailbox.MH(p) for p in sys.argv[1:]]',
      'for box in boxes: box.lock()',
      'print("locked", flush=True)',
      'for line in sys.stdin:',
      '    command, index = line.split()',
      '    box = boxes[int(index)]',
      '    if command == "add": print(box.add("Subject: from python\\n\\nhi\\n"), flush=True)',
      '    else: box.unlock(); print("unlocked", flush=True)',
    ].join('\n');
    const lock = new PythonLock(spawn('python3', ['-c', script, ...folders]));
    assert.equal(await lock.reply(), 'locked');
    return lock;
  }

  /** Adds a message to folder `index` while holding its lock; resolves with its number. */
  async add(index = 0): Promise<number> {
    this.child.stdin.write(`add ${index}\n`);
    return Number(await this.reply());
  }

  /** Unlocks folder `index`; resolves once it is unlocked. */
  async unlock(index = 0): Promise<void> {
    this.child.stdin.write(`unlock ${index}\n`);
    assert.equal(await this.reply(), 'unlocked');
  }

  /** Ends Python (its locks go with it only if it unlocked them: a killed holder leaves them). */
  async close(): Promise<void> {
    const exited = once(this.child, 'exit');
    this.child.stdin.end();
    await exited;
  }

  private async reply(): Promise<string> {
    const next = await this.replies.next();
    if (next.done === true) throw new Error('python exited');
    return next.value;
  }
}

/**
 * A tmpfs mounted for the length of `body` (CI runs as root), unmounted whatever happens;
 * `options` as for mount -o, e.g. 'size=2m'.
 */
export async function withTmpfs<T>(options: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir('tms-mount-');
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  // Also when the test process ends without getting to `finally`: it exits on an uncaught error
  // (what some of these tests catch), or is stopped while a broken server hangs it. Before the
  // scratch folder's own removal at exit, which would otherwise stop at the mount point.
  const unmountAtExit = () => spawnSync('umount', ['-l', dir]);
  const unmountAndStop = (signal: NodeJS.Signals) => {
    unmountAtExit();
    process.kill(process.pid, signal);
  };
  process.prependOnceListener('exit', unmountAtExit);
  for (const signal of stopSignals) process.once(signal, unmountAndStop);
  try {
    return await body(dir);
  } finally {
    // Lazily if still busy (a server that failed to close): the mount goes once its last file closes.
    await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    process.removeListener('exit', unmountAtExit);
    for (const signal of stopSignals) process.removeListener(signal, unmountAndStop);
    await rmdir(dir);
  }
}

const stopSignals = ['SIGINT', 'SIGTERM'] as const;

/** Remounts a tmpfs mounted by withTmpfs read-only (`ro`) or writable again (`rw`). */
export async function remount(dir: string, mode: 'ro' | 'rw'): Promise<void> {
  await run('mount', ['-o', `remount,${mode}`, path.resolve(dir)]);
}
