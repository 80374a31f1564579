/**
 * The MH store: the only code that knows MAIL_DIR's layout. Listeners hand it an envelope and
 * the message bytes; it writes one file per recipient, atomically, records each copy in the
 * index and announces it on the change stream (see IndexedStore, the readers' side).
 *
 * Layout: MAIL_DIR/<domain>/<local-part>/<N>, plus MAIL_DIR/.tmp/ for files being written
 * (same file system, so a finished file is linked into its folder, never copied), and
 * MAIL_DIR/.locks/<pid>-<store id>, the file this store links in as a folder's dot-lock.
 *
 * Copies are written on a delivery thread (see copy-writer.ts): creating files is the costliest
 * part of a delivery, and there it runs beside the SMTP sessions instead of between them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import { toMailbox, type AddressCheck, type MailboxName } from './address.js';
import { DeliveryThread } from './delivery-thread.js';
import { LockToken, madeByThisProcess, processRunning } from './dot-lock.js';
import { DeliveryError, mailDirError, StoreClosedError } from './errors.js';
import { IncomingMessage, type SpillFiles } from './incoming.js';
import { IndexedStore } from './indexed-store.js';
import { folderPath, lockDirName, lockTokenPath, newStoreId, ownerOf, tempDirName, TempNames } from './layout.js';
import { lstatIfPresent, MailDir, makeDirectories } from './mail-dir.js';
import { MhFolder, SmallFiles, type FolderContext } from './mh-folder.js';
import { inboxName, type FolderRef, type IndexedMessage } from './reader.js';
import type { Trace } from './trace.js';

export { IncomingMessage } from './incoming.js';

export interface Envelope {
  /** Reverse path without brackets; '' for the null sender `<>`. */
  readonly from: string;
  readonly to: readonly MailboxName[];
}

export interface StoreOptions {
  /** How long a delivery or removal waits for a folder another process has locked; default 10 s. */
  readonly lockWaitMs?: number;
}

const defaultLockWaitMs = 10_000;

export class MailStore extends IndexedStore {
  private readonly layout: MailDir;
  private readonly storeId: string;
  /** Linked into a folder as its `.mh_sequences.lock` while we hold it. */
  private readonly token: LockToken;
  private readonly tempNames: TempNames;
  /** For the changes made on this thread (readers' flags, appends, removals). */
  private readonly folderContext: FolderContext;
  private readonly spillFiles: SpillFiles;
  private deliveryThread: DeliveryThread | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** What open() made, outermost first: removed again, if still empty, by closeAndUndoCreation(). */
  private readonly created: string[] = [];

  private constructor(
    readonly mailDir: string,
    /** MAIL_DIR as the user wrote it, for log lines they can paste into `cat`. */
    private readonly displayDir: string,
    private readonly log: Logger,
    private readonly lockWaitMs: number,
  ) {
    const layout = new MailDir(mailDir);
    const storeId = newStoreId();
    const token = new LockToken(lockTokenPath(mailDir, storeId), layout);
    const tempNames = new TempNames(mailDir, storeId);
    const searchTextNames = new TempNames(mailDir, storeId, 'search-texts');
    const logLine = (level: 'debug' | 'warning', message: string) => log[level](message);
    const folderContext = { lock: { token, waitMs: lockWaitMs, log: logLine }, smallFiles: new SmallFiles() };
    super({
      mailDir,
      log,
      layout,
      folderAt: (dir) => new MhFolder(dir, folderContext),
      createTemp: () => layout.createTemp(tempNames),
      createSearchTextFile: () => layout.createTemp(searchTextNames),
    });
    this.layout = layout;
    this.storeId = storeId;
    this.token = token;
    this.tempNames = tempNames;
    this.folderContext = folderContext;
    this.spillFiles = {
      create: () => this.layout.createTemp(this.tempNames),
      remove: (file) =>
        fs.promises
          .rm(file, { force: true })
          .catch((error: Error) => log.warning(`could not remove ${file}: ${error.message}`)),
    };
  }

  /**
   * Makes MAIL_DIR (and its .tmp and .locks) if needed and clears what stores that are gone
   * left there. A MAIL_DIR that cannot be used fails with a MailDirError (read-only, not a
   * directory, permission denied), leaving nothing behind.
   */
  static async open(mailDir: string, log: Logger, options: StoreOptions = {}): Promise<MailStore> {
    const store = new MailStore(path.resolve(mailDir), mailDir, log, options.lockWaitMs ?? defaultLockWaitMs);
    try {
      store.prepare();
      await store.removeLeftovers();
    } catch (error) {
      store.undoCreation();
      throw mailDirError(store.mailDir, error) ?? error;
    }
    // Started now, so the first delivery does not wait for the thread to load.
    store.deliveryThread = new DeliveryThread(
      { mailDir: store.mailDir, storeId: store.storeId, lockWaitMs: store.lockWaitMs, debug: log.enabled('debug') },
      log,
    );
    store.startIndexing();
    return store;
  }

  /**
   * Lets deliveries in flight finish, ends the delivery thread and removes this store's lock
   * token, so a stopped server leaves only mail behind; later deliveries fail.
   */
  async close(): Promise<void> {
    const thread = this.deliveryThread;
    this.deliveryThread = undefined;
    await Promise.allSettled(this.inFlight);
    await this.closeReaders();
    this.folderContext.smallFiles.closeAll();
    await thread?.close();
    try {
      this.token.remove();
    } catch (error) {
      this.log.warning(`could not remove ${this.token.file}: ${(error as Error).message}`);
    }
  }

  /** As close(), then removes what open() made (MAIL_DIR, .tmp, .locks), each only if empty: for a start that failed. */
  async closeAndUndoCreation(): Promise<void> {
    await this.close();
    this.undoCreation();
  }

  /** The mailbox an envelope recipient maps to, or why it is refused. */
  check(address: string): AddressCheck {
    const result = toMailbox(address);
    if (!result.ok) return result;
    const folder = folderPath(this.mailDir, result.mailbox);
    // Belt and braces: the syntax rules already forbid it, but no name may resolve outside MAIL_DIR.
    if (!folder.startsWith(this.mailDir + path.sep))
      return { ok: false, reason: 'address resolves outside the mail directory' };
    return result;
  }

  /** Starts receiving a message body; write it chunk by chunk, then `deliver` or `discard`. */
  receive(): IncomingMessage {
    return new IncomingMessage(this.spillFiles);
  }

  /**
   * Stores one copy per recipient; resolves once every file is on disk. All or nothing: when
   * any copy fails, none is kept (see CopyWriter.takeBack) and this rejects with a DeliveryError.
   */
  deliver(incoming: IncomingMessage, envelope: Envelope, trace: Trace): Promise<IndexedMessage[]> {
    const thread = this.deliveryThread;
    if (!thread) {
      void incoming.discard();
      return Promise.reject(new StoreClosedError());
    }
    return this.track(this.deliverOn(thread, incoming, envelope, trace));
  }

  private async deliverOn(
    thread: DeliveryThread,
    incoming: IncomingMessage,
    envelope: Envelope,
    trace: Trace,
  ): Promise<IndexedMessage[]> {
    // One INBOX ref per recipient, which the keeper's counts and the index both take.
    const inboxes: FolderRef[] = envelope.to.map((recipient) => ({ mailbox: recipient.address, folder: inboxName }));
    for (const inbox of inboxes) this.keeper.deliveryStarted(inbox);
    try {
      const body = await incoming.finish();
      const bytes = 'file' in body ? { file: body.file } : ownedBytes(body.inMemory, body.size);
      const outcome = await thread.deliver({ from: envelope.from, to: envelope.to, trace, body: bytes });
      if (!outcome.ok) throw new DeliveryError(outcome.message, outcome.code);
      // One envelope object for every copy of the transaction.
      const delivered = { from: envelope.from, to: envelope.to.map((r) => r.address) };
      return outcome.copies.map(({ number, size }, i) => {
        const recipient = envelope.to[i];
        if (this.log.enabled('info'))
          this.log.info(`${recipient.address} -> ${path.join(folderPath(this.displayDir, recipient), String(number))}`);
        return this.recordAdded(this.inboxForDelivery(inboxes[i]), {
          mailbox: recipient.address,
          folder: inboxName,
          number,
          transaction: trace.id,
          envelope: delivered,
          size,
          receivedAt: trace.receivedAt,
        });
      });
    } finally {
      for (const inbox of inboxes) this.keeper.deliveryEnded(inbox);
      // Before the reply: once the client hears it, no temp file of this message is left.
      await incoming.discard();
    }
  }

  /** Keeps `work` in inFlight until it settles, so close() waits for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.catch(() => {}).finally(() => this.inFlight.delete(work));
    return work;
  }

  /** Makes what is missing of MAIL_DIR, .tmp and .locks (noting what it made), then this store's lock token. */
  private prepare(): void {
    this.created.push(...makeDirectories(this.mailDir));
    if (this.created.length > 0) this.log.info(`Created mail directory ${this.displayDir}`);
    for (const name of [tempDirName, lockDirName] as const) {
      const existed = lstatIfPresent(path.join(this.mailDir, name)) !== undefined;
      const dir = this.layout.ownDirectory(name);
      if (!existed) this.created.push(dir);
    }
    this.token.create();
  }

  /** Removes what open() made, innermost first, each only if empty. */
  private undoCreation(): void {
    for (const dir of this.created.splice(0).reverse()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // Not empty (someone put something there), or gone already: either way not ours to remove.
      }
    }
  }

  /**
   * Clears what stores that are gone left in .tmp and .locks: the files of processes no longer
   * running, and those of stores of our pid that are not open: an earlier process that had our
   * pid (in a container every run is pid 1), or a store of this process that was closed. A store
   * of this process is open while its lock token is there, made since this process started.
   */
  private async removeLeftovers(): Promise<void> {
    const openHere = new Set<string>();
    for (const name of await fs.promises.readdir(this.layout.lockDir)) {
      const owner = ownerOf(name);
      const file = path.join(this.layout.lockDir, name);
      if (owner?.pid === process.pid && owner.storeId && madeByThisProcess(await fs.promises.lstat(file))) {
        openHere.add(owner.storeId);
      } else if (!owner || owner.pid === process.pid || !processRunning(owner.pid)) {
        await this.removeLeftover(file);
      }
    }
    for (const name of await fs.promises.readdir(this.layout.tempDir)) {
      const owner = ownerOf(name);
      const open = owner && (owner.pid === process.pid ? openHere.has(owner.storeId ?? '') : processRunning(owner.pid));
      if (!open) await this.removeLeftover(path.join(this.layout.tempDir, name));
    }
  }

  private async removeLeftover(file: string): Promise<void> {
    try {
      await fs.promises.rm(file, { recursive: true, force: true });
      this.log.debug(`Removed ${path.relative(this.mailDir, file)}, left by a store no longer running`);
    } catch (error) {
      this.log.warning(`could not remove ${file}: ${(error as Error).message}`);
    }
  }
}

/** The body in a buffer of its own, so it can be moved to the delivery thread instead of copied. */
function ownedBytes(chunks: readonly Buffer[], size: number): Uint8Array {
  const bytes = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(bytes, offset);
  return bytes;
}
