/**
 * The MH store: the only code that knows MAIL_DIR's layout. Listeners hand it an envelope and
 * the message bytes; it writes one file per recipient, atomically, records each copy in the
 * index and announces it on the change stream (see IndexedStore, the readers' side).
 *
 * Layout: MAIL_DIR/<domain>/<local-part>/<N>, plus MAIL_DIR/.tmp/ for files being written
 * (same file system, so a finished file is linked into its folder, never copied), and
 * MAIL_DIR/.locks/<pid>, the file this process links in as a folder's dot-lock.
 *
 * Copies are written on a delivery thread (see copy-writer.ts): creating files is the costliest
 * part of a delivery, and there it runs beside the SMTP sessions instead of between them.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log.js';
import { toMailbox, type AddressCheck, type MailboxName } from './address.js';
import type { CopyResult } from './copy-writer.js';
import { DeliveryThread } from './delivery-thread.js';
import { folderPath, lockDirName, tempDirName, TempNames } from './layout.js';
import { IndexedStore } from './indexed-store.js';
import { createLockToken, MhFolder, processRunning, removeIfPresent, SmallFiles } from './mh-folder.js';
import { inboxName, type IndexedMessage } from './reader.js';
import type { Trace } from './trace.js';

export interface Envelope {
  /** Reverse path without brackets; '' for the null sender `<>`. */
  readonly from: string;
  readonly to: readonly MailboxName[];
}

type CopyFailure = Extract<CopyResult, { ok: false }>;

/** Bodies up to this size stay in memory; larger ones stream to a temp file as they arrive. */
const spillThreshold = 1024 * 1024;

export class MailStore extends IndexedStore {
  private readonly tempDir: string;
  private readonly lockDir: string;
  /** Linked into a folder as its `.mh_sequences.lock` while we hold it. */
  private readonly lockToken: string;
  private readonly tempNames: TempNames;
  /** For the changes made on this thread (readers' flags, removals). */
  private readonly smallFiles: SmallFiles;
  private deliveryThread: DeliveryThread | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    readonly mailDir: string,
    /** MAIL_DIR as the user wrote it, for log lines they can paste into `cat`. */
    private readonly displayDir: string,
    private readonly log: Logger,
  ) {
    const lockToken = path.join(mailDir, lockDirName, String(process.pid));
    const tempNames = new TempNames(mailDir);
    const smallFiles = new SmallFiles();
    super({
      mailDir,
      log,
      folderAt: (dir) => new MhFolder(dir, lockToken, smallFiles),
      newTempPath: () => tempNames.next(),
    });
    this.tempDir = path.join(mailDir, tempDirName);
    this.lockDir = path.join(mailDir, lockDirName);
    this.lockToken = lockToken;
    this.tempNames = tempNames;
    this.smallFiles = smallFiles;
  }

  /** Creates MAIL_DIR if needed and clears temp files left by crashed processes. */
  static async open(mailDir: string, log: Logger): Promise<MailStore> {
    const absolute = path.resolve(mailDir);
    if (!fs.existsSync(absolute)) {
      await fs.promises.mkdir(absolute, { recursive: true, mode: 0o750 });
      log.info(`Created mail directory ${mailDir}`);
    }
    const store = new MailStore(absolute, mailDir, log);
    for (const dir of [store.tempDir, store.lockDir]) {
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o750 });
      await store.removeFilesOfDeadProcesses(dir);
    }
    createLockToken(store.lockToken);
    // Started now, so the first delivery does not wait for the thread to load.
    store.deliveryThread = new DeliveryThread({ mailDir: absolute, lockToken: store.lockToken });
    store.startIndexing();
    return store;
  }

  /**
   * Lets deliveries in flight finish, ends the delivery thread and removes this process's lock
   * token, so a stopped server leaves only mail behind; later deliveries fail. Another store
   * of this process on the same MAIL_DIR makes the token again when it next needs it.
   */
  async close(): Promise<void> {
    const thread = this.deliveryThread;
    this.deliveryThread = undefined;
    await Promise.allSettled(this.inFlight);
    await this.closeReaders();
    this.smallFiles.closeAll();
    await thread?.close();
    removeIfPresent(this.lockToken);
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
    return new IncomingMessage(() => this.tempNames.next());
  }

  /** Stores one copy per recipient; resolves once every file is on disk. */
  deliver(incoming: IncomingMessage, envelope: Envelope, trace: Trace): Promise<IndexedMessage[]> {
    const thread = this.deliveryThread;
    if (!thread) {
      incoming.discard();
      return Promise.reject(new Error('the mail store is closed'));
    }
    const delivery = this.deliverOn(thread, incoming, envelope, trace);
    this.inFlight.add(delivery);
    void delivery.catch(() => {}).finally(() => this.inFlight.delete(delivery));
    return delivery;
  }

  private async deliverOn(
    thread: DeliveryThread,
    incoming: IncomingMessage,
    envelope: Envelope,
    trace: Trace,
  ): Promise<IndexedMessage[]> {
    const inboxes = envelope.to.map((recipient) => ({ mailbox: recipient.address, folder: inboxName }));
    for (const inbox of inboxes) this.keeper.deliveryStarted(inbox);
    try {
      const body = await incoming.finish();
      const bytes = 'file' in body ? { file: body.file } : ownedBytes(body.inMemory, body.size);
      const results = await thread.deliver({ from: envelope.from, to: envelope.to, trace, body: bytes });
      const to = envelope.to.map((r) => r.address);
      const stored: IndexedMessage[] = [];
      results.forEach((result, i) => {
        if (!result.ok) return;
        const recipient = envelope.to[i];
        if (this.log.enabled('info')) {
          this.log.info(
            `${recipient.address} -> ${path.join(folderPath(this.displayDir, recipient), String(result.number))}`,
          );
        }
        // Copies that did land are recorded and announced even when another failed: they are on disk.
        stored.push(
          this.recordAdded(this.inboxForDelivery(recipient.address), {
            mailbox: recipient.address,
            folder: inboxName,
            number: result.number,
            transaction: trace.id,
            envelope: { from: envelope.from, to },
            size: result.size,
            receivedAt: trace.receivedAt,
          }),
        );
      });
      const failed = results.find((result): result is CopyFailure => !result.ok);
      if (failed)
        throw Object.assign(new Error(failed.message), failed.code === undefined ? {} : { code: failed.code });
      return stored;
    } finally {
      for (const inbox of inboxes) this.keeper.deliveryEnded(inbox);
      incoming.discard();
    }
  }

  /** Temp files (`<pid>-...`, see TempNames) and lock tokens (`<pid>`) of processes no longer running are leftovers. */
  private async removeFilesOfDeadProcesses(dir: string): Promise<void> {
    for (const name of await fs.promises.readdir(dir)) {
      const pid = Number.parseInt(name, 10);
      if (pid === process.pid || !processRunning(pid)) {
        await fs.promises.rm(path.join(dir, name), { force: true });
        this.log.debug(`Removed ${path.basename(dir)}/${name}, left by a process no longer running`);
      }
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

/** The body as received: the chunks themselves while small (no copy), else the temp file it streamed to. */
type Body = { size: number } & ({ inMemory: readonly Buffer[] } | { file: string });

/**
 * A message body on its way in: kept in memory while small, streamed to a temp file once large,
 * so memory does not grow with message size. `write` returns false when the caller should wait
 * for `drain` (the file is behind).
 */
export class IncomingMessage extends EventEmitter<{ drain: []; error: [Error] }> {
  size = 0;
  private chunks: Buffer[] = [];
  private spill: { file: string; stream: fs.WriteStream } | undefined;

  constructor(private readonly newTempPath: () => string) {
    super();
  }

  write(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.spill) return this.spill.stream.write(chunk);
    this.chunks.push(chunk);
    if (this.size <= spillThreshold) return true;
    const file = this.newTempPath();
    const stream = fs.createWriteStream(file, { flags: 'wx', mode: 0o640 });
    stream.on('drain', () => this.emit('drain'));
    stream.on('error', (error) => this.emit('error', error));
    this.spill = { file, stream };
    const pending = this.chunks;
    this.chunks = [];
    let ready = true;
    for (const buffered of pending) ready = stream.write(buffered);
    return ready;
  }

  /** Waits until every byte is written; the body as the store copies it. */
  async finish(): Promise<Body> {
    if (!this.spill) return { size: this.size, inMemory: this.chunks };
    const { stream, file } = this.spill;
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(resolve);
    });
    return { size: this.size, file };
  }

  /** Drops the body: nothing of it stays on disk. */
  discard(): void {
    this.chunks = [];
    if (!this.spill) return;
    const { stream, file } = this.spill;
    this.spill = undefined;
    const remove = () => fs.rm(file, { force: true }, () => {});
    // Writes still pending fail once the stream is destroyed: expected, and nobody is waiting for them.
    stream.removeAllListeners('error').on('error', () => {});
    if (stream.closed) remove();
    else stream.once('close', remove).destroy();
    // Nothing is behind any more: whoever waits to send more (a paused socket) may go on.
    this.emit('drain');
  }
}
