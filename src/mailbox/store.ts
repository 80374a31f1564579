/**
 * The MH store: the only code that knows MAIL_DIR's layout. Listeners hand it an envelope and
 * the message bytes; it writes one file per recipient, atomically, and emits an event per
 * stored message for the readers (IMAP, POP3, web, test waiters).
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
import { createLockToken, isCode, MhFolder, processRunning, removeIfPresent, SmallFiles } from './mh-folder.js';
import type { Trace } from './trace.js';

export interface Envelope {
  /** Reverse path without brackets; '' for the null sender `<>`. */
  readonly from: string;
  readonly to: readonly MailboxName[];
}

export interface StoredMessage {
  /** `local@domain` of the mailbox it was delivered to. */
  readonly mailbox: string;
  /** MH message number, unique for the folder's whole life. */
  readonly number: number;
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** Bytes in the stored file, trace lines included. */
  readonly size: number;
  readonly receivedAt: Date;
}

export interface StoreEvents {
  delivered: [StoredMessage];
  expunged: [{ readonly mailbox: string; readonly numbers: readonly number[] }];
}

type CopyFailure = Extract<CopyResult, { ok: false }>;

/** Bodies up to this size stay in memory; larger ones stream to a temp file as they arrive. */
const spillThreshold = 1024 * 1024;

export class MailStore extends EventEmitter<StoreEvents> {
  private readonly tempDir: string;
  private readonly lockDir: string;
  /** Linked into a folder as its `.mh_sequences.lock` while we hold it. */
  private readonly lockToken: string;
  private readonly tempNames: TempNames;
  /** For removals, which stay on this thread. */
  private readonly smallFiles = new SmallFiles();
  private deliveryThread: DeliveryThread | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    readonly mailDir: string,
    /** MAIL_DIR as the user wrote it, for log lines they can paste into `cat`. */
    private readonly displayDir: string,
    private readonly log: Logger,
  ) {
    super();
    this.tempDir = path.join(mailDir, tempDirName);
    this.lockDir = path.join(mailDir, lockDirName);
    this.lockToken = path.join(this.lockDir, String(process.pid));
    this.tempNames = new TempNames(mailDir);
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
  deliver(incoming: IncomingMessage, envelope: Envelope, trace: Trace): Promise<StoredMessage[]> {
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
  ): Promise<StoredMessage[]> {
    try {
      const body = await incoming.finish();
      const bytes = 'file' in body ? { file: body.file } : ownedBytes(body.inMemory, body.size);
      const results = await thread.deliver({ from: envelope.from, to: envelope.to, trace, body: bytes });
      const to = envelope.to.map((r) => r.address);
      const stored: StoredMessage[] = [];
      results.forEach((result, i) => {
        if (!result.ok) return;
        const recipient = envelope.to[i];
        if (this.log.enabled('info')) {
          this.log.info(
            `${recipient.address} -> ${path.join(folderPath(this.displayDir, recipient), String(result.number))}`,
          );
        }
        stored.push({
          mailbox: recipient.address,
          number: result.number,
          envelope: { from: envelope.from, to },
          size: result.size,
          receivedAt: trace.receivedAt,
        });
      });
      // Copies that did land are announced even when another failed: they are on disk.
      for (const message of stored) this.emit('delivered', message);
      const failed = results.find((result): result is CopyFailure => !result.ok);
      if (failed)
        throw Object.assign(new Error(failed.message), failed.code === undefined ? {} : { code: failed.code });
      return stored;
    } finally {
      incoming.discard();
    }
  }

  /** Every mailbox that has a folder, as `local@domain`, sorted. */
  async mailboxes(): Promise<string[]> {
    const found: string[] = [];
    for (const domain of await readdirOrEmpty(this.mailDir)) {
      if (domain.startsWith('.')) continue;
      for (const local of await readdirOrEmpty(path.join(this.mailDir, domain))) {
        const check = toMailbox(`${local}@${domain}`);
        if (check.ok && check.mailbox.domain === domain) found.push(check.mailbox.address);
      }
    }
    return found.sort();
  }

  /** Message numbers in a mailbox, ascending ([] for an unknown or refused address). */
  list(mailbox: string): number[] {
    return this.existingFolder(mailbox)?.folder.list() ?? [];
  }

  /** The stored file's bytes, trace lines included; undefined if it is gone. */
  async read(mailbox: string, number: number): Promise<Buffer | undefined> {
    const found = this.existingFolder(mailbox);
    if (!found) return undefined;
    try {
      return await fs.promises.readFile(found.folder.messagePath(number));
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'EISDIR')) return undefined;
      throw error;
    }
  }

  async remove(mailbox: string, numbers: readonly number[]): Promise<void> {
    const found = this.existingFolder(mailbox);
    if (!found || numbers.length === 0) return;
    await found.folder.removeMessages(numbers);
    this.emit('expunged', { mailbox: found.address, numbers });
  }

  /** Deletes every message of every mailbox (folders and their numbering stay). */
  async removeAll(): Promise<void> {
    for (const mailbox of await this.mailboxes()) await this.remove(mailbox, this.list(mailbox));
  }

  /** The folder of a mailbox named by a reader (no folder is created), with its normalized address. */
  private existingFolder(mailbox: string): { folder: MhFolder; address: string } | undefined {
    const check = this.check(mailbox);
    return check.ok
      ? { folder: this.folderAt(folderPath(this.mailDir, check.mailbox)), address: check.mailbox.address }
      : undefined;
  }

  private folderAt(dir: string): MhFolder {
    return new MhFolder(dir, this.lockToken, this.smallFiles);
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

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch (error) {
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return [];
    throw error;
  }
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
