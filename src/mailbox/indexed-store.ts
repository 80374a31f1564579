/**
 * The store as its readers see it (the `MailReader` contract): the index of every message, the
 * change stream, and the operations readers perform (folders, flags, append, copy, move, remove),
 * each done on disk under the folder's dot-lock and then recorded in the index and announced.
 * `MailStore` adds SMTP delivery on top.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import { toMailbox } from './address.js';
import { applyFlags, canonicalFlag, deletedFlag, flagsFromSequences, orderedFlags } from './flags.js';
import { FolderError, FolderNameError } from './errors.js';
import { folderComponents } from './folder-name.js';
import { isGone } from './folder-listing.js';
import { IndexKeeper } from './index-keeper.js';
import { MessageIndex, type Entry, type FolderState, type NewEntry } from './message-index.js';
import { readMessage, servedSizeOf, streamMessage } from './message-file.js';
import type { MailDir } from './mail-dir.js';
import { writeAll, type MhFolder } from './mh-folder.js';
import {
  inboxName,
  type Flag,
  type FlagOperation,
  type FolderInfo,
  type FolderRef,
  type IndexedMessage,
  type MailReader,
  type MessageRef,
  type MessageSummary,
  type ReadOptions,
  type StoreChange,
  type StoreEvents,
  type TextMatcher,
  type Watch,
} from './reader.js';
import { ScanPool } from './scan.js';
import { SearchTexts } from './search-texts.js';
import { inRanges } from './sequences.js';
import { ChangeWatcher } from './watcher.js';

/** What the reader side needs of the store around it. */
export interface StoreDisk {
  readonly mailDir: string;
  readonly log: Logger;
  /** MAIL_DIR's directories, checked component by component (no links followed). */
  readonly layout: MailDir;
  /** The MH folder at `dir`, with the store's lock token. */
  folderAt(dir: string): MhFolder;
  /** A new temp file under MAIL_DIR/.tmp (same file system as the folders), open for writing. */
  createTemp(): { file: string; fd: number };
  /** The same, named as the store's file of search texts (see search-texts.ts), so it is told apart there. */
  createSearchTextFile(): { file: string; fd: number };
}

export class IndexedStore extends EventEmitter<StoreEvents> implements MailReader {
  protected readonly index = new MessageIndex((record) => this.texts.snippetOf(record));
  protected readonly keeper: IndexKeeper;
  private readonly watcher: ChangeWatcher;
  private readonly pool = new ScanPool();
  private readonly texts: SearchTexts;
  indexed: Promise<void> = Promise.resolve();
  /** The first scan is done (its threads may still be ending). */
  private scanned = true;

  protected constructor(protected readonly disk: StoreDisk) {
    super();
    // One listener per watching reader (a waiter, an IMAP session, a WebSocket): many is no leak.
    this.setMaxListeners(0);
    this.texts = new SearchTexts({
      createTemp: () => disk.createSearchTextFile(),
      forEachLive: (visit) => {
        for (const entry of this.index.all()) if (entry.summary) visit(entry.summary);
      },
      log: disk.log,
    });
    const announce = (change: StoreChange) => this.announce(change);
    this.keeper = new IndexKeeper(disk.mailDir, this.index, this.pool, this.texts, announce, disk.log);
    this.watcher = new ChangeWatcher(disk.mailDir, this.index, this.keeper, disk.log);
  }

  /** Starts the first scan of MAIL_DIR, in the background; `indexed` resolves when it is done. */
  protected startIndexing(): void {
    const started = performance.now();
    this.scanned = false;
    this.indexed = this.keeper.scanAll().then(
      async () => {
        this.scanned = true;
        // The index is complete once the scan threads are gone too, with what their heaps held of the scan.
        await this.pool.rest();
        const seconds = ((performance.now() - started) / 1000).toFixed(2);
        this.disk.log.info(
          `Indexed ${this.index.all().length} messages in ${this.index.mailboxes().length} mailboxes in ${seconds} s`,
        );
      },
      (error: unknown) => this.disk.log.error(`Indexing ${this.disk.mailDir} failed: ${(error as Error).message}`),
    );
  }

  protected async closeReaders(): Promise<void> {
    this.watcher.close();
    await this.keeper.close();
    await this.indexed;
    await this.pool.close();
    this.texts.close();
  }

  /** Tells every listener; one that throws is logged and does not stop the others or the store. */
  protected announce(change: StoreChange): void {
    if (change.kind === 'folder') this.watcher.syncDirectories(change.change === 'created' ? change.folder : undefined);
    if (change.kind === 'expunged' || change.kind === 'folder') this.texts.noteRemovals();
    for (const listener of this.listeners('change')) {
      try {
        listener(change);
      } catch (error) {
        this.disk.log.error(`A change listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  // ---- reading ----

  mailboxes(): string[] {
    return this.index.mailboxes();
  }

  folders(mailbox: string): FolderInfo[] {
    const name = normalMailbox(mailbox);
    return name === undefined ? [] : this.index.foldersOf(name).map((state) => this.index.info(state));
  }

  folder(ref: FolderRef): FolderInfo | undefined {
    const state = this.knownFolder(ref);
    return state && this.index.info(state);
  }

  messages(ref: FolderRef): readonly IndexedMessage[] {
    const state = this.knownFolder(ref);
    return state ? this.index.messagesOf(state) : [];
  }

  allMessages(): readonly IndexedMessage[] {
    return this.index.all();
  }

  message(ref: MessageRef): IndexedMessage | undefined {
    return this.knownFolder(ref)?.messages.get(ref.number);
  }

  transaction(id: string): readonly IndexedMessage[] {
    return this.index.transaction(id);
  }

  async summary(ref: MessageRef): Promise<MessageSummary | undefined> {
    const entry = this.entry(ref);
    if (!entry) return undefined;
    if (entry.summary) return entry.summary;
    const [result] = await this.pool.read([this.messageFile(entry)]);
    if (!result || !('summary' in result)) return undefined;
    entry.servedSize = result.servedSize;
    // The records first: a summary kept with its records in the file reads its snippet there.
    this.texts.add([result]);
    return this.index.setSummary(entry, result.summary);
  }

  textMatcher(values: readonly string[]): TextMatcher {
    return this.texts.matcher(values);
  }

  async read(ref: MessageRef, options?: ReadOptions): Promise<Buffer | undefined> {
    const entry = this.entry(ref);
    return entry && readMessage(this.messageFile(entry), options, entry.servedSize);
  }

  async stream(ref: MessageRef, options?: ReadOptions): Promise<Readable | undefined> {
    const entry = this.entry(ref);
    return entry && streamMessage(this.messageFile(entry), options, entry.servedSize);
  }

  async servedSize(ref: MessageRef): Promise<number | undefined> {
    const entry = this.entry(ref);
    if (!entry) return undefined;
    entry.servedSize ??= await servedSizeOf(this.messageFile(entry));
    return entry.servedSize;
  }

  /** Compares the index with the disk now (a reader about to list wants what other processes did too). */
  async refresh(scope: { readonly mailbox?: string } = {}): Promise<void> {
    await this.indexed;
    await this.keeper.refresh(scope);
  }

  watch(scope: FolderRef | { readonly mailbox: string } | 'all', listener: (change: StoreChange) => void): Watch {
    const inScope = scopeTest(scope);
    const wrapped = (change: StoreChange) => {
      if (inScope(change.kind === 'added' ? change.message : change.folder)) listener(change);
    };
    this.on('change', wrapped);
    const snapshot = this.index.all().filter(inScope);
    const stopWatching = this.watcher.open(
      scope === 'all' ? 'all' : { mailbox: normalMailbox(scope.mailbox) ?? scope.mailbox },
    );
    return {
      snapshot,
      complete: this.scanned,
      close: () => {
        this.off('change', wrapped);
        stopWatching();
      },
    };
  }

  // ---- folders ----

  async createFolder(ref: FolderRef): Promise<void> {
    const checked = this.checkedFolder(ref);
    const dir = this.keeper.folderDir(checked);
    if (this.index.folder(checked) || isDirectory(dir))
      throw new FolderError('TMS_FOLDER_EXISTS', `Folder ${checked.folder} of ${checked.mailbox} exists already`);
    this.makeFolder(checked);
  }

  async renameFolder(ref: FolderRef, newName: string): Promise<void> {
    const from = this.existingFolder(ref);
    const to = this.checkedFolder({ mailbox: from.ref.mailbox, folder: newName });
    const target = this.keeper.folderDir(to);
    if (this.index.folder(to) || isDirectory(target))
      throw new FolderError('TMS_FOLDER_EXISTS', `Folder ${to.folder} of ${to.mailbox} exists already`);
    if (from.ref.folder === inboxName) {
      // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new folder and leaves INBOX empty.
      this.makeFolder(to);
      await this.move(from.ref, [...from.messages.keys()], to);
      return;
    }
    if (
      folderComponents(to.folder)
        .join('/')
        .startsWith(`${folderComponents(from.ref.folder).join('/')}/`)
    ) {
      throw new FolderNameError(to.folder, 'a folder cannot move inside itself');
    }
    const parent = folderComponents(to.folder).slice(0, -1);
    this.writableDir({ mailbox: to.mailbox, folder: parent.length === 0 ? inboxName : parent.join('/') }, true);
    fs.renameSync(this.writableDir(from.ref, false)!, target);
    this.dropFolderTree(from.ref);
    this.announce({ kind: 'folder', folder: from.ref, change: 'renamed', to: to.folder, external: false });
    await this.keeper.compare(to, true);
    for (const state of this.index.foldersOf(to.mailbox)) {
      if (state.ref.folder === to.folder || state.ref.folder.startsWith(`${to.folder}/`)) {
        this.announce({ kind: 'folder', folder: state.ref, change: 'created', external: false });
      }
    }
  }

  async deleteFolder(ref: FolderRef): Promise<void> {
    const state = this.existingFolder(ref);
    if (state.ref.folder === inboxName) throw new FolderError('TMS_INBOX', 'INBOX cannot be deleted');
    if (this.index.foldersOf(state.ref.mailbox).some((other) => other.ref.folder.startsWith(`${state.ref.folder}/`))) {
      throw new FolderError('TMS_FOLDER_HAS_CHILDREN', `Folder ${state.ref.folder} has sub-folders: delete them first`);
    }
    await fs.promises.rm(this.keeper.folderDir(state.ref), { recursive: true, force: true });
    const numbers = this.index.removeFolder(state.ref);
    if (numbers.length > 0) this.announce({ kind: 'expunged', folder: state.ref, numbers, external: false });
    this.announce({ kind: 'folder', folder: state.ref, change: 'removed', external: false });
  }

  // ---- messages ----

  async append(
    ref: FolderRef,
    bytes: Buffer,
    options: { flags?: readonly Flag[]; receivedAt?: Date } = {},
  ): Promise<IndexedMessage> {
    const flags = orderedFlags(options.flags ?? []);
    const state = ref.folder.toUpperCase() === inboxName ? this.folderForWriting(ref) : this.existingFolder(ref);
    const receivedAt = options.receivedAt ?? new Date();
    const { file, fd } = this.disk.createTemp();
    try {
      try {
        writeAll(fd, bytes, 0);
        // The file's time is its IMAP internal date, for us and for the next scan.
        fs.futimesSync(fd, receivedAt, receivedAt);
      } finally {
        fs.closeSync(fd);
      }
      const [number] = await this.linkIn(state, [file], [flags]);
      return this.recordAdded(state, {
        ...state.ref,
        number,
        transaction: undefined,
        envelope: { from: '', to: [state.ref.mailbox] },
        receivedAt,
        size: bytes.length,
        flags,
      });
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  async copy(fromRef: FolderRef, numbers: readonly number[], toRef: FolderRef): Promise<number[]> {
    const from = this.existingFolder(fromRef);
    const to = toRef.folder.toUpperCase() === inboxName ? this.folderForWriting(toRef) : this.existingFolder(toRef);
    const sources = numbers.map((n) => from.messages.get(n)).filter((entry): entry is Entry => entry !== undefined);
    // Stored files never change, so a copy is one more link to the same file: no bytes copied,
    // and the internal date (the file's time) comes along.
    const copied = await this.linkIn(
      to,
      sources.map((entry) => this.messageFile(entry)),
      sources.map((entry) => entry.flags),
    );
    return sources.map((source, i) => {
      const { transaction, envelope, receivedAt, size, flags, summary } = source;
      const { mailbox, folder } = to.ref;
      const fields = { mailbox, folder, number: copied[i], transaction, envelope, receivedAt, size, flags, summary };
      this.recordAdded(to, fields).servedSize = source.servedSize;
      return copied[i];
    });
  }

  async move(from: FolderRef, numbers: readonly number[], to: FolderRef): Promise<number[]> {
    const copied = await this.copy(from, numbers, to);
    await this.remove(from, numbers);
    return copied;
  }

  async setFlags(
    ref: FolderRef,
    numbers: readonly number[],
    operation: FlagOperation,
    flags: readonly Flag[],
  ): Promise<void> {
    const state = this.existingFolder(ref);
    const present = numbers.filter((n) => state.messages.has(n));
    const canonical = flags.map(canonicalFlag);
    if (present.length === 0) return;
    const dir = this.writableDir(state.ref, false);
    if (dir === undefined) return;
    await this.disk.folderAt(dir).changeSequences((sequences) => {
      applyFlags(sequences, present, operation, canonical);
      // Recorded inside the lock, in the same turn as the write, so no comparison with the disk sees one without the other.
      const changed = this.index.setFlags(state, flagsFromSequences(sequences, present));
      if (changed.length > 0) this.announce({ kind: 'flags', folder: state.ref, messages: changed, external: false });
    });
  }

  async remove(ref: FolderRef, numbers: readonly number[]): Promise<number[]> {
    const state = this.knownFolder(ref);
    if (!state) return [];
    const present = numbers.filter((n) => state.messages.has(n));
    if (present.length === 0) return [];
    const dir = this.writableDir(state.ref, false);
    if (dir !== undefined) await this.disk.folderAt(dir).removeMessages(present);
    const removed = this.index.remove(state, present).map((entry) => entry.number);
    if (removed.length > 0) this.announce({ kind: 'expunged', folder: state.ref, numbers: removed, external: false });
    return removed;
  }

  async expunge(ref: FolderRef, numbers?: readonly number[]): Promise<number[]> {
    const state = this.knownFolder(ref);
    if (!state) return [];
    // Flags another client set a moment ago count too.
    await this.keeper.compare(state.ref, false);
    const wanted = numbers && new Set(numbers);
    const deleted = this.index
      .messagesOf(state)
      .filter((entry) => entry.flags.includes(deletedFlag) && (!wanted || wanted.has(entry.number)));
    return this.remove(
      state.ref,
      deleted.map((entry) => entry.number),
    );
  }

  /** Deletes every message of every mailbox and folder (the folders and their numbering stay). */
  async removeAll(): Promise<void> {
    await this.refresh();
    for (const state of this.index.allFolders()) await this.remove(state.ref, [...state.messages.keys()]);
  }

  // ---- for MailStore ----

  /** The INBOX of a mailbox a delivery goes to: known to the index from now on. */
  protected inboxForDelivery(ref: FolderRef): FolderState {
    const known = this.index.folder(ref);
    if (known) return known;
    const state = this.keeper.addNewFolder(ref);
    this.announce({ kind: 'folder', folder: ref, change: 'created', external: false });
    return state;
  }

  /** Records a message that is now on disk and announces it. */
  protected recordAdded(state: FolderState, fields: NewEntry): Entry {
    let live = this.index.folder(state.ref) ?? this.index.addFolder(state.ref, state.uidValidity, state.highWater);
    if (live.messages.has(fields.number) || inRanges(live.removed, fields.number)) live = this.keeper.restarted(live);
    const entry = this.index.add(live, fields);
    this.announce({ kind: 'added', message: entry, external: false });
    return entry;
  }

  // ---- internals ----

  private async linkIn(
    state: FolderState,
    files: readonly string[],
    flags: ReadonlyArray<readonly Flag[]>,
  ): Promise<number[]> {
    const folder = this.disk.folderAt(this.writableDir(state.ref, true)!);
    this.keeper.deliveryStarted(state.ref);
    try {
      const results = await folder.addMessages(files, flags);
      const failed = results.find((result) => result.status === 'rejected');
      if (!failed) return results.map((result) => (result as PromiseFulfilledResult<number>).value);
      // All or nothing, as IMAP's COPY: what did land goes again.
      const landed = results.filter((result) => result.status === 'fulfilled').map((result) => result.value);
      await folder.removeMessages(landed);
      throw failed.reason;
    } finally {
      this.keeper.deliveryEnded(state.ref);
    }
  }

  /**
   * A folder's directory for writing, checked component by component (no link is followed) and,
   * with `create`, made if missing; undefined when it is missing.
   */
  private writableDir(ref: FolderRef, create: boolean): string | undefined {
    const check = toMailbox(ref.mailbox);
    if (!check.ok) throw new FolderNameError(ref.folder, check.reason);
    return this.disk.layout.subFolder(check.mailbox, folderComponents(ref.folder), create);
  }

  private folderForWriting(ref: FolderRef): FolderState {
    return this.knownFolder(ref) ?? this.makeFolder(this.checkedFolder(ref));
  }

  private makeFolder(ref: FolderRef): FolderState {
    this.writableDir(ref, true);
    // Parents made along the way (a new mailbox, `Lists` for `Lists/Work`) become folders too.
    const components = folderComponents(ref.folder);
    for (let depth = 0; depth <= components.length; depth++) {
      const folder = depth === 0 ? inboxName : components.slice(0, depth).join('/');
      const parent = { mailbox: ref.mailbox, folder };
      if (this.index.folder(parent)) continue;
      this.keeper.addNewFolder(parent);
      this.announce({ kind: 'folder', folder: parent, change: 'created', external: false });
    }
    return this.index.folder(ref)!;
  }

  private dropFolderTree(ref: FolderRef): void {
    for (const state of this.index.foldersOf(ref.mailbox)) {
      if (state.ref.folder === ref.folder || state.ref.folder.startsWith(`${ref.folder}/`))
        this.index.removeFolder(state.ref);
    }
  }

  /** The folder named, normalized and checked; throws FolderNameError. */
  private checkedFolder(ref: FolderRef): FolderRef {
    const check = toMailbox(ref.mailbox);
    if (!check.ok) throw new FolderNameError(ref.folder, `mailbox ${JSON.stringify(ref.mailbox)}: ${check.reason}`);
    const components = folderComponents(ref.folder);
    return { mailbox: check.mailbox.address, folder: components.length === 0 ? inboxName : components.join('/') };
  }

  /** The folder's state if the index knows it; undefined for unknown or invalid names. */
  private knownFolder(ref: FolderRef): FolderState | undefined {
    // A ref taken from the index (the usual caller's) names its folder exactly: no checks needed.
    const exact = this.index.folder(ref);
    if (exact) return exact;
    try {
      return this.index.folder(this.checkedFolder(ref));
    } catch (error) {
      if (error instanceof FolderNameError) return undefined;
      throw error;
    }
  }

  private existingFolder(ref: FolderRef): FolderState {
    const state = this.index.folder(this.checkedFolder(ref));
    if (!state) throw new FolderError('TMS_NO_FOLDER', `No folder ${ref.folder} in ${ref.mailbox}`);
    return state;
  }

  private entry(ref: MessageRef): Entry | undefined {
    return this.knownFolder(ref)?.messages.get(ref.number);
  }

  private messageFile(ref: MessageRef): string {
    return path.join(this.keeper.folderDir(ref), String(ref.number));
  }
}

/** `local@domain` with the domain lowercased; undefined when it cannot be a mailbox. */
function normalMailbox(mailbox: string): string | undefined {
  const check = toMailbox(mailbox);
  return check.ok ? check.mailbox.address : undefined;
}

function scopeTest(scope: FolderRef | { readonly mailbox: string } | 'all'): (ref: FolderRef) => boolean {
  if (scope === 'all') return () => true;
  const mailbox = normalMailbox(scope.mailbox) ?? scope.mailbox;
  if (!('folder' in scope)) return (ref) => ref.mailbox === mailbox;
  const folder = scope.folder.toUpperCase() === inboxName ? inboxName : scope.folder;
  return (ref) => ref.mailbox === mailbox && ref.folder === folder;
}

function isDirectory(dir: string): boolean {
  try {
    return fs.lstatSync(dir).isDirectory();
  } catch (error) {
    if (isGone(error)) return false;
    throw error;
  }
}
