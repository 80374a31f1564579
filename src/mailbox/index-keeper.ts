/**
 * Keeps the index true to the disk: one scan of MAIL_DIR at start, then, whenever asked (a watched
 * directory changed, a poll found a new stamp, a reader wants a fresh view), a comparison of a
 * folder's files with what the index holds. What differs was done by another process or tool:
 * it goes into the index and out as a change with `external: true`.
 *
 * The store's own changes reach the index directly (see MailStore), so the comparison finds
 * nothing to do for them; deliveries still in flight are the one thing it must not mistake for
 * another writer's, so numbers above the high-water mark wait while a folder has any.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import { toMailbox } from './address.js';
import { flagsFromSequences } from './flags.js';
import { folderComponents, folderName } from './folder-name.js';
import {
  isGone,
  listFolder,
  lstatIfThere,
  readSmallFile,
  sequencesFileName,
  uidValidityFileName,
  type FolderListing,
} from './folder-listing.js';
import { FolderMap } from './folder-map.js';
import type { FolderState, MessageIndex } from './message-index.js';
import { inboxName, type FolderRef, type StoreChange } from './reader.js';
import type { ScanPool, ScanResult } from './scan.js';
import type { SearchTexts } from './search-texts.js';
import { inRanges, parseSequences } from './sequences.js';
import { identityOf, Notifications } from './watcher.js';

/** What a folder's directory and sequences file looked like at its last comparison. */
type Stamp = string;

/**
 * A file written this recently may still be being written (`mailbox.MH.add` and `cp` write in
 * place): it is indexed once it has been still this long.
 */
const stillForMs = 50;

/** Folders compared at once during the first scan: enough to keep the scan threads busy. */
const scanConcurrency = 8;

export class IndexKeeper {
  /** What the watcher's notifications vouch for: the directories a refresh need not stamp. */
  readonly notifications = new Notifications();
  private readonly stamps = new FolderMap<Stamp>();
  private readonly dirs = new WeakMap<FolderRef, string>();
  /** Per folder: the comparison running now, and whether another was asked for meanwhile. */
  private readonly running = new FolderMap<{ again: boolean; done: Promise<void> }>();
  /**
   * Own deliveries in flight, per folder. A folder's count stays at 0 between deliveries rather
   * than leaving the map: a mailbox that gets one message at a time would otherwise cost a Map
   * made and dropped per copy.
   */
  private readonly inFlight = new FolderMap<number>();
  /** The stamps of MAIL_DIR and of each domain directory when the mailboxes were last listed. */
  private listStamps = new Map<string, Stamp>();
  private firstScan: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly mailDir: string,
    private readonly index: MessageIndex,
    private readonly pool: ScanPool,
    private readonly texts: SearchTexts,
    private readonly emit: (change: StoreChange) => void,
    private readonly log: Logger,
  ) {}

  /** The directory of a folder (whose name was already checked). */
  folderDir(ref: FolderRef): string {
    // Kept for the index's refs (one object per folder): a refresh asks it of every folder in scope.
    let dir = this.dirs.get(ref);
    if (dir === undefined) {
      const local = ref.mailbox.slice(0, ref.mailbox.lastIndexOf('@'));
      dir = path.join(this.domainDir(ref.mailbox), local, ...folderComponents(ref.folder));
      this.dirs.set(ref, dir);
    }
    return dir;
  }

  /** Own deliveries to a folder start / end: meanwhile its new numbers are not another writer's. */
  deliveryStarted(ref: FolderRef): void {
    this.inFlight.set(ref, (this.inFlight.get(ref) ?? 0) + 1);
  }

  deliveryEnded(ref: FolderRef): void {
    this.inFlight.set(ref, (this.inFlight.get(ref) ?? 1) - 1);
  }

  /** The first scan: every folder of every mailbox, into the index, without change events. */
  scanAll(): Promise<void> {
    const scan = this.scanEverything();
    this.firstScan = scan.catch(() => {});
    return scan;
  }

  private async scanEverything(): Promise<void> {
    // Taken before the listing, so a mailbox made meanwhile is found by the next refresh.
    const listStamps = this.mailboxListStamps();
    const inboxes = this.listMailboxes(new Set()).map((mailbox) => ({ mailbox, folder: inboxName }));
    let next = 0;
    const worker = async () => {
      while (next < inboxes.length) await this.compare(inboxes[next++], true);
    };
    await Promise.all(Array.from({ length: scanConcurrency }, worker));
    this.listStamps = listStamps;
  }

  /**
   * Compares with the disk what may have changed: the list of mailboxes when MAIL_DIR's or a
   * domain's directory changed, and each folder in scope whose stamp is new. A directory that
   * notifications vouch for is not stamped (`everyStamp`, the poll's, stamps them all: it is
   * there for the changes notifications miss).
   */
  async refresh(scope: { readonly mailbox?: string } = {}, options: { everyStamp?: boolean } = {}): Promise<void> {
    // Until the first scan is done, what it has not reached yet is not new: comparing it now
    // would announce every stored message as added by another process.
    await this.firstScan;
    await this.notifications.caughtUp();
    const unnoticed = options.everyStamp ? [] : undefined;
    const known = new Set(this.index.mailboxes());
    if (scope.mailbox === undefined && this.mailboxListChanged(unnoticed)) {
      for (const mailbox of this.listMailboxes(known)) await this.compare({ mailbox, folder: inboxName }, false);
    }
    const folders = scope.mailbox === undefined ? this.index.allFolders() : this.index.foldersOf(scope.mailbox);
    // A comparison under way (the watcher's) has taken the new stamp but may not have added what it
    // found yet: it is waited for, and runs once more, so that a refresh misses nothing done before it.
    const stale = (ref: FolderRef) =>
      this.running.has(ref) || this.changed(this.folderDir(ref), this.stamps.get(ref), unnoticed);
    const comparing = folders.filter((state) => stale(state.ref)).map((state) => this.compare(state.ref, false));
    if (unnoticed && unnoticed.length > 0) void this.checkNotified(unnoticed);
    await Promise.all(comparing);
    if (scope.mailbox !== undefined && !known.has(scope.mailbox))
      await this.compare({ mailbox: scope.mailbox, folder: inboxName }, false);
  }

  /**
   * Whether `dir` differs from its stamp `last`. Without `unnoticed`, a directory notifications
   * vouch for is not stamped; with it, every one is, and those that changed unnoticed go into it.
   */
  private changed(dir: string, last: Stamp | undefined, unnoticed?: string[]): boolean {
    const silent = this.notifications.silentSince(dir);
    if (silent !== undefined && !unnoticed) return silent !== last;
    const stamp = this.stampOf(dir);
    if (silent !== undefined && stamp !== silent) unnoticed?.push(dir);
    return stamp !== last;
  }

  private async checkNotified(dirs: readonly string[]): Promise<void> {
    if (await this.notifications.missed(dirs))
      this.log.info(`Changes to ${dirs[0]} came without a notification: looking at every folder on each refresh`);
  }

  /** Whether MAIL_DIR or a domain directory changed since the mailboxes were last listed (see `changed`). */
  private mailboxListChanged(unnoticed: string[] | undefined): boolean {
    let changed = false;
    for (const [dir, last] of this.listStamps) if (this.changed(dir, last, unnoticed)) changed = true;
    if (!changed && this.listStamps.size > 0) return false;
    this.listStamps = this.mailboxListStamps();
    return true;
  }

  /**
   * Compares one folder (and, through it, its sub-folders) with the disk. Comparisons of one
   * folder never overlap: one asked for while another runs runs once more after it.
   */
  compare(ref: FolderRef, initial: boolean): Promise<void> {
    if (this.closed) return Promise.resolve();
    const current = this.running.get(ref);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await this.compareOnce(ref, initial);
        } while (entry.again);
      } catch (error) {
        if (!this.closed) this.log.error(`Reading ${this.folderDir(ref)} failed: ${(error as Error).message}`);
      } finally {
        this.running.delete(ref);
      }
    })();
    this.running.set(ref, entry);
    return entry.done;
  }

  /** No comparison starts from now on; resolves when those running are done. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running.values()].map((running) => running.done));
  }

  private async compareOnce(ref: FolderRef, initial: boolean): Promise<void> {
    const dir = this.folderDir(ref);
    // The stamp is taken before the listing: a file added in between makes the next stamp differ
    // (and is compared again), where a stamp taken after would hide it until the next change.
    const stamp = this.stampOf(dir);
    const listing = listFolder(dir);
    let state = this.index.folder(ref);
    if (!listing) {
      if (state) this.dropFolder(state, true);
      return;
    }
    this.stamps.set(ref, stamp);
    let change: 'created' | 'recreated' = 'created';
    let previousUidValidity = this.index.pastUidValidity(ref);
    if (state && listing.uidValidity !== state.uidValidity) {
      // Removed and made again (its UIDVALIDITY file went with it): what it holds now is all new.
      previousUidValidity = state.uidValidity;
      this.dropFolder(state, false);
      state = undefined;
      change = 'recreated';
    }
    if (!state) {
      const uidValidity = this.ensureUidValidity(dir, listing.uidValidity, previousUidValidity);
      state = this.index.addFolder(ref, uidValidity, highest(listing));
      if (!initial) this.emit({ kind: 'folder', folder: ref, change, external: true });
    }
    this.removeGone(state, listing, initial);
    await this.addFound(state, listing, dir, initial);
    this.compareFlags(state, dir, initial);
    await this.compareSubFolders(state, listing, initial);
  }

  /** Messages the index holds that the folder no longer has: removed by another process. */
  private removeGone(state: FolderState, listing: FolderListing, initial: boolean): void {
    const present = new Set(listing.numbers);
    const gone = [...state.messages.keys()].filter((n) => !present.has(n));
    const removed = this.index.remove(state, gone).map((entry) => entry.number);
    if (removed.length > 0 && !initial)
      this.emit({ kind: 'expunged', folder: state.ref, numbers: removed, external: true });
  }

  /** Files the index does not hold yet: read and summarized on the scan threads, then added. */
  private async addFound(state: FolderState, listing: FolderListing, dir: string, initial: boolean): Promise<void> {
    const delivering = (this.inFlight.get(state.ref) ?? 0) > 0;
    const found = listing.numbers.filter((n) => !state.messages.has(n) && !(delivering && n > state.highWater));
    if (found.length === 0) return;
    // A number the folder held before: another tool reused it (Python's mailbox.MH.add takes the
    // highest file + 1), so IMAP clients must drop what they cached.
    if (!initial && found.some((n) => inRanges(state.removed, n))) this.newUidValidity(state, dir);
    state.highWater = Math.max(state.highWater, highest(listing));
    const flags = flagsFromSequences(parseSequences(listing.sequences), found);
    let fresh = false;
    await this.pool.readEach(
      found.map((n) => `${dir}/${n}`),
      (results, first) => {
        // The records first, one write per batch: a summary kept with its records in the file
        // reads its snippet there. Those of files not taken are dead, dropped at a later sweep.
        this.texts.add(results.filter((result) => 'searchText' in result));
        results.forEach((result, i) => {
          const number = found[first + i];
          if (isFresh(result)) fresh = true;
          else this.addScanned(state, number, result, flags.get(number) ?? [], initial);
        });
      },
    );
    if (!fresh) return;
    // Its stamp no longer vouches for the folder: a refresh before the timer compares it again
    // (the file may have been finished, or dated back, without the directory changing).
    this.stamps.delete(state.ref);
    setTimeout(() => void this.compare(state.ref, false), stillForMs).unref();
  }

  private addScanned(
    state: FolderState,
    number: number,
    result: ScanResult,
    flags: readonly string[],
    initial: boolean,
  ): void {
    if ('gone' in result) return;
    if ('error' in result)
      return this.log.warning(`Cannot index ${this.folderDir(state.ref)}/${number}: ${result.error}`);
    // Added by the store itself meanwhile, or its folder dropped: nothing to do.
    if (state.messages.has(number) || this.index.folder(state.ref) !== state) return;
    const { trace } = result;
    const entry = this.index.add(state, {
      mailbox: state.ref.mailbox,
      folder: state.ref.folder,
      number,
      transaction: trace.id,
      envelope: { from: trace.sender ?? '', to: [trace.recipient ?? state.ref.mailbox] },
      partialEnvelope: true,
      receivedAt: trace.receivedAt ?? result.mtime,
      size: result.size,
      flags,
      summary: result.summary,
    });
    entry.servedSize = result.servedSize;
    if (!initial) this.emit({ kind: 'added', message: entry, external: true });
  }

  /**
   * The sequences file as it is now, against the flags the index holds. Read again rather than
   * taken from the listing: adding found files awaited the scan threads, and flags this store
   * set meanwhile must not be put back to the listing's.
   */
  private compareFlags(state: FolderState, dir: string, initial: boolean): void {
    const text = readSmallFile(path.join(dir, sequencesFileName)) ?? '';
    const numbers = [...state.messages.keys()];
    const changed = this.index.setFlags(state, flagsFromSequences(parseSequences(text), numbers));
    if (changed.length > 0 && !initial)
      this.emit({ kind: 'flags', folder: state.ref, messages: changed, external: true });
  }

  private async compareSubFolders(state: FolderState, listing: FolderListing, initial: boolean): Promise<void> {
    const parent = folderComponents(state.ref.folder);
    const children = listing.subFolders.map((name) => ({
      mailbox: state.ref.mailbox,
      folder: folderName([...parent, name]),
    }));
    for (const child of children) await this.compare(child, initial);
    const present = new Set(children.map((child) => child.folder));
    for (const known of this.index.foldersOf(state.ref.mailbox)) {
      const components = folderComponents(known.ref.folder);
      const isChild = components.length === parent.length + 1 && parent.every((part, i) => components[i] === part);
      if (isChild && !present.has(known.ref.folder)) this.dropFolder(known, true);
    }
  }

  /** Drops a folder (and its sub-folders) from the index, announcing it when `removed` from disk. */
  private dropFolder(state: FolderState, removed: boolean): void {
    const prefix = state.ref.folder === inboxName ? '' : `${state.ref.folder}/`;
    for (const known of this.index.foldersOf(state.ref.mailbox)) {
      const inside =
        known === state || (prefix === '' ? known.ref.folder !== inboxName : known.ref.folder.startsWith(prefix));
      if (!inside) continue;
      const numbers = this.index.removeFolder(known.ref);
      this.stamps.delete(known.ref);
      if (!removed) continue;
      if (numbers.length > 0) this.emit({ kind: 'expunged', folder: known.ref, numbers, external: true });
      this.emit({ kind: 'folder', folder: known.ref, change: 'removed', external: true });
    }
  }

  /**
   * The folder's UIDVALIDITY, made now if it has none: the time in seconds (so a folder made
   * again later gets a greater one), created exclusively so two servers agree on it.
   */
  ensureUidValidity(dir: string, recorded: number | undefined, atLeast: number): number {
    if (recorded !== undefined && recorded > atLeast) return recorded;
    const value = Math.max(Math.floor(Date.now() / 1000), atLeast + 1);
    const file = path.join(dir, uidValidityFileName);
    try {
      fs.writeFileSync(file, `${value}\n`, { flag: recorded === undefined ? 'wx' : 'w', mode: 0o640 });
      return value;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another server made it first: theirs counts.
      return this.ensureUidValidity(dir, listFolder(dir)?.uidValidity, atLeast);
    }
  }

  /** A folder the store itself just made: known to the index from now on, with a UIDVALIDITY of its own. */
  addNewFolder(ref: FolderRef): FolderState {
    const uidValidity = this.ensureUidValidity(this.folderDir(ref), undefined, this.index.pastUidValidity(ref));
    return this.index.addFolder(ref, uidValidity, 0);
  }

  private newUidValidity(state: FolderState, dir: string): void {
    state.uidValidity = this.ensureUidValidity(dir, state.uidValidity, state.uidValidity);
    state.removed = [];
    this.emit({ kind: 'folder', folder: state.ref, change: 'recreated', external: true });
  }

  /**
   * The store was given a number its index holds, or held: the folder was removed and made
   * again behind its back (numbering restarted). The index starts it afresh, with a new
   * UIDVALIDITY, and a comparison finds what else it holds now.
   */
  restarted(state: FolderState): FolderState {
    const dir = this.folderDir(state.ref);
    this.dropFolder(state, false);
    const fresh = this.index.addFolder(
      state.ref,
      this.ensureUidValidity(dir, undefined, this.index.pastUidValidity(state.ref)),
      0,
    );
    this.emit({ kind: 'folder', folder: state.ref, change: 'recreated', external: true });
    void this.compare(state.ref, false);
    return fresh;
  }

  /** MAIL_DIR's domain directories. */
  domainDirs(): string[] {
    return this.domains().map((domain) => path.join(this.mailDir, domain));
  }

  /** The directory of a mailbox's domain. */
  domainDir(mailbox: string): string {
    return path.join(this.mailDir, mailbox.slice(mailbox.lastIndexOf('@') + 1));
  }

  /** MAIL_DIR's domains: every real sub-directory but its own dot-directories (`.tmp`, `.locks`). */
  private domains(): string[] {
    return realSubDirectories(this.mailDir).filter((domain) => !domain.startsWith('.'));
  }

  /** Every mailbox with a folder under MAIL_DIR/<domain>/<local-part> but those `known`, sorted. */
  private listMailboxes(known: ReadonlySet<string>): string[] {
    const found: string[] = [];
    for (const domain of this.domains()) {
      for (const local of realSubDirectories(path.join(this.mailDir, domain))) {
        // A known name was checked when it became known (a new mailbox is one among thousands).
        const address = `${local}@${domain}`;
        if (known.has(address)) continue;
        const check = toMailbox(address);
        if (check.ok && check.mailbox.domain === domain && !known.has(check.mailbox.address))
          found.push(check.mailbox.address);
      }
    }
    return found.sort();
  }

  /**
   * MAIL_DIR's stamp and every domain directory's (not `.tmp`'s, which each delivery changes): a
   * new mailbox changes one of them.
   */
  private mailboxListStamps(): Map<string, Stamp> {
    // MAIL_DIR's is taken before its listing, so a domain made meanwhile changes the next.
    const stamps = new Map([[this.mailDir, this.stampOf(this.mailDir)]]);
    for (const dir of this.domainDirs()) stamps.set(dir, this.stampOf(dir));
    return stamps;
  }

  /**
   * A directory's identity and change time and its sequences file's, as one comparable value;
   * the notifications learn that it was taken.
   */
  private stampOf(dir: string): Stamp {
    const stat = lstatIfThere(dir);
    const stamp = `${statStamp(stat)}/${statStamp(lstatIfThere(path.join(dir, sequencesFileName)))}`;
    this.notifications.stamped(dir, identityOf(stat), stamp);
    return stamp;
  }
}

function statStamp(stat: fs.BigIntStats | undefined): string {
  return stat ? `${identityOf(stat)}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.size}` : '-';
}

/** Entries of `dir` that are directories, not symlinks to one; [] when `dir` is gone. */
function realSubDirectories(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch (error) {
    if (isGone(error)) return [];
    throw error;
  }
}

function isFresh(result: ScanResult): boolean {
  if (!('mtime' in result)) return false;
  const age = Date.now() - result.mtime.getTime();
  // A time far in the future was set on purpose (an appended message's date), not by a writer at work.
  return age < stillForMs && age > -1000;
}

function highest(listing: FolderListing): number {
  return Math.max(listing.highWater ?? 0, listing.numbers.at(-1) ?? 0);
}
