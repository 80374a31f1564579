/**
 * Noticing what other processes do to MAIL_DIR while someone is watching: file-system
 * notifications on the watched directories for speed, and a poll of their stamps as the bounded
 * fallback (notifications do not cross some mounts, and can run out). Nobody watching costs nothing,
 * a moment after the last watch closed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { lstatIfThere } from './folder-listing.js';
import type { IndexKeeper } from './index-keeper.js';
import type { MessageIndex } from './message-index.js';
import type { FolderRef } from './reader.js';

/** Watched folders are compared at least this often, so an outside change is seen within a second. */
export const pollIntervalMs = 400;
/** Notifications come in bursts (a file, then the sequences, then the lock): one comparison after the burst. */
const settleMs = 15;
/**
 * Comparisons take at most a twentieth of the time: after one that took d ms the next waits 19 d
 * (at most a second). The store's own deliveries change the stamps all the time, and comparing a
 * busy folder over and over for them halved the SMTP throughput of a loaded server.
 */
const restFactor = 19;
const maxRestMs = 1000;
/** How long the directories stay watched after the last watch closed. */
const lingerMs = 2000;
/** A change a poll found that no notification has told of this long after is one notifications missed. */
const missedAfterMs = 100;

/** What a reader watches: everything, or one mailbox with all its folders. */
export type WatchScope = 'all' | { readonly mailbox: string };

/** A watched directory: which one the watch is on, and since which stamp it has been silent. */
interface Watched {
  /** The directory's device and inode when its watch began: a watch stays on them wherever they go. */
  readonly identity: string;
  silentSince: string | undefined;
  notices: number;
}

/**
 * What notifications vouch for: a directory watched since before its stamp was last taken,
 * still the one at its path then, and silent since, has not changed; a refresh need not take
 * its stamp again (once the notifications already sent are read). That keeps a refresh to the
 * folders that changed. The watcher records the watches and notifications, the keeper the stamps.
 */
export class Notifications {
  private readonly watched = new Map<string, Watched>();
  /** Directories whose watch turned out to be on another directory than the one at their path now. */
  private readonly misplaced = new Set<string>();
  /** A poll found a change no notification told of (a network file system, an overflow): none vouches from then on. */
  private distrusted = false;

  began(dir: string, identity: string): void {
    this.watched.set(dir, { identity, silentSince: undefined, notices: 0 });
  }

  ended(dir: string): void {
    this.watched.delete(dir);
    this.misplaced.delete(dir);
  }

  noticed(dir: string): void {
    const watched = this.watched.get(dir);
    if (!watched) return;
    watched.silentSince = undefined;
    watched.notices++;
  }

  /**
   * The watched `dir` itself was moved or removed: its watch is over (or follows it elsewhere),
   * and any watched one under it may be elsewhere now. A directory made again at its path can
   * have the removed one's inode number, so only a new watch vouches for it again.
   */
  lost(dir: string): void {
    for (const watched of this.watched.values()) watched.silentSince = undefined;
    if (!this.watched.delete(dir)) return;
    this.misplaced.add(dir);
  }

  /** The keeper took the stamp of `dir` (`identity` its device and inode then, '-' when it is gone). */
  stamped(dir: string, identity: string, stamp: string): void {
    const watched = this.watched.get(dir);
    if (!watched) return;
    if (watched.identity === identity) watched.silentSince = stamp;
    else this.misplaced.add(dir);
  }

  /** The stamp `dir` has kept since it was last taken, as far as notifications tell; undefined when they cannot tell. */
  silentSince(dir: string): string | undefined {
    return this.distrusted ? undefined : this.watched.get(dir)?.silentSince;
  }

  /** Resolves once the notifications of changes made before the call have been read. */
  async caughtUp(): Promise<void> {
    if (this.distrusted || this.watched.size === 0) return;
    // They are read in the event loop's poll phase. A setImmediate made in an I/O callback runs
    // before the next poll phase; one made in a setImmediate callback runs after it.
    await new Promise(setImmediate);
    await new Promise(setImmediate);
  }

  /**
   * A poll found these directories changed while they were silent: unless a notification of it
   * comes once those already sent are read, notifications miss changes here. Resolves with
   * whether they did (and then no longer vouch).
   */
  async missed(dirs: readonly string[]): Promise<boolean> {
    const before = dirs.map((dir) => this.watched.get(dir));
    const counts = before.map((watched) => watched?.notices);
    // A write shows in a stamp before its notification is sent (when the system call ends):
    // another thread's may still be under way.
    await delay(missedAfterMs, undefined, { ref: false });
    await this.caughtUp();
    const missed = before.some(
      (watched, i) => watched !== undefined && this.watched.get(dirs[i]) === watched && watched.notices === counts[i],
    );
    this.distrusted ||= missed;
    return missed;
  }

  /** The directories found misplaced since the last call: to be watched again. */
  takeMisplaced(): string[] {
    const dirs = [...this.misplaced];
    this.misplaced.clear();
    return dirs;
  }
}

export class ChangeWatcher {
  private readonly scopes = new Map<string, number>();
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private poll: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  /** When the next comparison may start, and the timer waiting for then. */
  private restUntil = 0;
  private resting: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  /** The poll asked for the next refresh: it takes every stamp, vouched for or not. */
  private pollDue = false;
  /** A refresh a notification asked for is yet to start. */
  private notifiedWaiting = false;
  private notificationsFailed = false;
  /** After the last watch closed: the directories stay watched until this fires. */
  private lingering: NodeJS.Timeout | undefined;
  /** A notification came while lingering: the next watch must compare. */
  private noticedUnwatched = false;
  /** What the watched directories were last made to fit: the scopes, and the index's folder set. */
  private syncedScopes: string | undefined;
  private syncedVersion = -1;

  private readonly notifications: Notifications;
  /** MAIL_DIR itself changed (a domain made, most likely): the next sync looks for directories to watch. */
  private topChanged = false;

  constructor(
    private readonly mailDir: string,
    private readonly index: MessageIndex,
    private readonly keeper: IndexKeeper,
    private readonly log: Logger,
  ) {
    this.notifications = keeper.notifications;
  }

  /**
   * Starts watching `scope`; the returned function stops. A comparison runs now, unless the scope
   * was watched already (or is covered by 'all') and nothing was noticed while nobody watched.
   */
  open(scope: WatchScope): () => void {
    const key = scopeKey(scope);
    const covered = this.scopes.has('all') || this.scopes.has(key);
    this.scopes.set(key, (this.scopes.get(key) ?? 0) + 1);
    clearTimeout(this.lingering);
    this.lingering = undefined;
    this.poll ??= setInterval(() => {
      this.pollDue = true;
      this.refresh();
    }, pollIntervalMs).unref();
    this.syncDirectories();
    if (!covered || this.noticedUnwatched || this.notificationsFailed) {
      this.noticedUnwatched = false;
      this.refresh();
    }
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      const left = this.scopes.get(key)! - 1;
      if (left > 0) this.scopes.set(key, left);
      else this.scopes.delete(key);
      if (this.scopes.size > 0) this.syncDirectories();
      // Waiters come one after another (a test's waitForMessage each): the directories stay
      // watched a moment, so the next one does not set up a watch per folder again.
      else this.lingering ??= setTimeout(() => this.stop(), lingerMs).unref();
    };
  }

  /**
   * After the index learned of new folders (or lost some): watch exactly the directories in scope.
   * `created`, the folder just made, when that is the only change: then only its directory is added
   * (a delivery to a new mailbox must not cost a look at every folder).
   */
  syncDirectories(created?: FolderRef): void {
    if (this.scopes.size === 0 || this.notificationsFailed) return;
    for (const dir of this.notifications.takeMisplaced()) {
      this.unwatch(dir);
      this.syncedScopes = undefined;
    }
    const scopes = [...this.scopes.keys()].sort().join(',');
    if (scopes === this.syncedScopes && this.index.foldersVersion === this.syncedVersion) return;
    if (created && scopes === this.syncedScopes && this.index.foldersVersion === this.syncedVersion + 1) {
      this.syncedVersion++;
      if (!this.inScope(created.mailbox)) return;
      for (const dir of [this.keeper.domainDir(created.mailbox), this.keeper.folderDir(created)])
        if (!this.watchers.has(dir)) this.watchDirectory(dir);
      return;
    }
    this.syncedScopes = scopes;
    this.syncedVersion = this.index.foldersVersion;
    const wanted = this.directoriesInScope();
    for (const dir of this.watchers.keys()) if (!wanted.has(dir)) this.unwatch(dir);
    const added = [...wanted].filter((dir) => !this.watchers.has(dir));
    for (const dir of added) this.watchDirectory(dir);
    // A domain that appeared since the last look may have changed before its watch began (a
    // mailbox made in it at once, as `mailbox.MH` makes both): looked at once more.
    if (this.topChanged && added.length > 0) this.soon();
    this.topChanged = false;
  }

  close(): void {
    this.scopes.clear();
    this.stop();
  }

  private stop(): void {
    clearTimeout(this.lingering);
    this.lingering = undefined;
    this.syncedScopes = undefined;
    this.noticedUnwatched = false;
    clearInterval(this.poll);
    clearTimeout(this.pending);
    clearTimeout(this.resting);
    this.poll = undefined;
    this.pending = undefined;
    this.resting = undefined;
    this.notifiedWaiting = false;
    for (const dir of [...this.watchers.keys()]) this.unwatch(dir);
  }

  private inScope(mailbox: string): boolean {
    return this.scopes.has('all') || this.scopes.has(scopeKey({ mailbox }));
  }

  /**
   * The folders' directories in scope, and the domain directories above them: moving one of
   * those moves the folders under it, which only a notification on the domain tells.
   */
  private directoriesInScope(): Set<string> {
    const dirs = new Set<string>();
    // Every domain, not only those of known mailboxes: a mailbox made in a new one is noticed too.
    if (this.scopes.has('all')) for (const dir of [this.mailDir, ...this.keeper.domainDirs()]) dirs.add(dir);
    for (const mailbox of this.index.mailboxes()) if (this.inScope(mailbox)) dirs.add(this.keeper.domainDir(mailbox));
    for (const state of this.index.allFolders())
      if (this.inScope(state.ref.mailbox)) dirs.add(this.keeper.folderDir(state.ref));
    return dirs;
  }

  private watchDirectory(dir: string): void {
    try {
      // Its identity is taken first: should another directory take its place before the watch
      // begins, the stamps show one that is not the watched one (and once the watched one is
      // moved or removed, it tells so itself).
      const identity = identityOf(lstatIfThere(dir));
      const base = path.basename(dir);
      const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        // The watched directory itself moved or went (a watch follows it, or ends silently).
        if (name === base || name === null) this.notifications.lost(dir);
        if (dir === this.mailDir) {
          this.topChanged = true;
          this.syncedScopes = undefined;
        }
        this.notifications.noticed(dir);
        this.soon();
      });
      watcher.on('error', () => {
        this.unwatch(dir);
        this.syncedScopes = undefined;
      });
      this.watchers.set(dir, watcher);
      this.notifications.began(dir, identity);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      // Out of inotify watches (ENOSPC) or not supported here: polling alone still sees every change.
      this.notificationsFailed = true;
      this.log.warning(
        `Watching ${dir} failed (${code ?? (error as Error).message}); noticing outside changes by polling only`,
      );
    }
  }

  /** Stops watching `dir`; the next full sync watches it again if it is in scope. */
  private unwatch(dir: string): void {
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
    this.notifications.ended(dir);
  }

  private soon(): void {
    if (this.scopes.size === 0) {
      this.noticedUnwatched = true;
      return;
    }
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.refresh(true);
    }, settleMs);
  }

  /**
   * One refresh at a time; one asked for meanwhile, or while resting, runs after. `notified`: a
   * notification asked for it, whose timer kept the process alive (as an awaited change needs);
   * the rest keeps it alive too then, while the poll's never does.
   */
  private refresh(notified = false): void {
    this.notifiedWaiting ||= notified;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    const rest = this.restUntil - performance.now();
    if (rest > 0) {
      this.resting ??= setTimeout(() => {
        this.resting = undefined;
        if (this.scopes.size > 0) this.refresh();
      }, rest).unref();
      if (this.notifiedWaiting) this.resting.ref();
      return;
    }
    this.notifiedWaiting = false;
    const started = performance.now();
    this.refreshing = this.refreshScopes()
      .catch((error: unknown) => this.log.error(`Looking for outside changes failed: ${(error as Error).message}`))
      .finally(() => {
        const ended = performance.now();
        this.restUntil = ended + Math.min(maxRestMs, restFactor * (ended - started));
        this.refreshing = undefined;
        this.syncDirectories();
        if (this.refreshAgain && this.scopes.size > 0) {
          this.refreshAgain = false;
          this.refresh();
        }
      });
  }

  private async refreshScopes(): Promise<void> {
    const options = { everyStamp: this.pollDue };
    this.pollDue = false;
    if (this.scopes.has('all')) return this.keeper.refresh({}, options);
    for (const key of this.scopes.keys()) await this.keeper.refresh({ mailbox: key.slice(1) }, options);
  }
}

function scopeKey(scope: WatchScope): string {
  return scope === 'all' ? 'all' : `@${scope.mailbox}`;
}

/** A directory's device and inode, as the keeper's stamps name them; '-' when it is gone. */
export function identityOf(stat: fs.BigIntStats | undefined): string {
  return stat ? `${stat.dev}.${stat.ino}` : '-';
}
