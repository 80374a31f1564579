/**
 * Noticing what other processes do to MAIL_DIR while someone is watching: file-system
 * notifications on the watched directories for speed, and a poll of their stamps as the bounded
 * fallback (notifications do not cross some mounts, and can run out). Nobody watching costs nothing,
 * a moment after the last watch closed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import type { IndexKeeper } from './index-keeper.js';
import type { MessageIndex } from './message-index.js';

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

/** What a reader watches: everything, or one mailbox with all its folders. */
export type WatchScope = 'all' | { readonly mailbox: string };

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

  constructor(
    private readonly mailDir: string,
    private readonly index: MessageIndex,
    private readonly keeper: IndexKeeper,
    private readonly log: Logger,
  ) {}

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
    this.poll ??= setInterval(() => this.refresh(), pollIntervalMs).unref();
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

  /** After the index learned of new folders (or lost some): watch exactly the directories in scope. */
  syncDirectories(): void {
    if (this.scopes.size === 0 || this.notificationsFailed) return;
    const scopes = [...this.scopes.keys()].sort().join(',');
    if (scopes === this.syncedScopes && this.index.foldersVersion === this.syncedVersion) return;
    this.syncedScopes = scopes;
    this.syncedVersion = this.index.foldersVersion;
    const wanted = this.directoriesInScope();
    for (const [dir, watcher] of this.watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      this.watchers.delete(dir);
    }
    for (const dir of wanted) if (!this.watchers.has(dir)) this.watchDirectory(dir);
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
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private directoriesInScope(): Set<string> {
    const dirs = new Set<string>();
    const everything = this.scopes.has('all');
    if (everything) {
      dirs.add(this.mailDir);
      for (const mailbox of this.index.mailboxes())
        dirs.add(path.join(this.mailDir, mailbox.slice(mailbox.lastIndexOf('@') + 1)));
    }
    for (const state of this.index.allFolders()) {
      if (everything || this.scopes.has(scopeKey({ mailbox: state.ref.mailbox })))
        dirs.add(this.keeper.folderDir(state.ref));
    }
    return dirs;
  }

  private watchDirectory(dir: string): void {
    try {
      const watcher = fs.watch(dir, { persistent: false }, () => this.soon());
      // A watched directory that is removed ends its watcher with an error: the next sync drops it
      // (or watches it again, made anew).
      watcher.on('error', () => {
        this.watchers.delete(dir);
        this.syncedScopes = undefined;
      });
      this.watchers.set(dir, watcher);
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
    if (this.scopes.has('all')) return this.keeper.refresh();
    for (const key of this.scopes.keys()) await this.keeper.refresh({ mailbox: key.slice(1) });
  }
}

function scopeKey(scope: WatchScope): string {
  return scope === 'all' ? 'all' : `@${scope.mailbox}`;
}
