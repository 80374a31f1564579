/**
 * A test-only MailReader held in memory: a stepping stone for the HTTP layer's in-memory tests
 * until the store's reader lands. It follows the contract of src/mailbox/reader.ts (copies per
 * recipient sharing a transaction id, flags, one change stream, watch with a snapshot); the
 * proof that counts is end-to-end against the real store.
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
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
  type StoreChange,
  type StoreEvents,
  type Watch,
} from '../../src/mailbox/reader.js';
import { isInline } from '../../src/http/mailpit.js';
import { cleanString } from '../../src/http/search.js';
import { parseMessage } from '../../src/testing/message.js';

interface Stored {
  message: IndexedMessage;
  readonly raw: Buffer;
}

export interface DeliverOptions {
  readonly transaction?: string | undefined;
  readonly receivedAt?: Date;
  readonly flags?: readonly Flag[];
}

const key = (ref: MessageRef) => `${ref.mailbox}\n${ref.folder}\n${ref.number}`;
const folderKey = (ref: FolderRef) => `${ref.mailbox}\n${ref.folder}`;

export class MemoryReader extends EventEmitter<StoreEvents> implements MailReader {
  readonly indexed = Promise.resolve();
  private readonly stored = new Map<string, Stored>();
  private readonly highWater = new Map<string, number>();
  private transactions = 0;
  private clock = Date.parse('2026-03-01T10:00:00Z');

  /** Stores one copy per recipient, as an SMTP delivery does; resolves with the copies. */
  async deliver(from: string, to: readonly string[], raw: string | Buffer, options: DeliverOptions = {}) {
    const transaction = 'transaction' in options ? options.transaction : `T${++this.transactions}X`;
    const receivedAt = options.receivedAt ?? new Date((this.clock += 1000));
    const copies: IndexedMessage[] = [];
    for (const recipient of to) {
      const at = recipient.lastIndexOf('@');
      const mailbox = `${recipient.slice(0, at)}@${recipient.slice(at + 1).toLowerCase()}`;
      const bytes = Buffer.concat([
        Buffer.from(`Return-Path: <${from}>\r\nDelivered-To: ${recipient}\r\n`),
        Buffer.from(raw),
      ]);
      copies.push(
        await this.add({ mailbox, folder: inboxName }, bytes, {
          transaction,
          envelope: { from, to: [...to] },
          receivedAt,
          flags: options.flags ?? [],
        }),
      );
    }
    return copies;
  }

  private async add(
    folder: FolderRef,
    raw: Buffer,
    fields: Pick<IndexedMessage, 'transaction' | 'envelope' | 'receivedAt' | 'flags'>,
  ): Promise<IndexedMessage> {
    const number = (this.highWater.get(folderKey(folder)) ?? 0) + 1;
    this.highWater.set(folderKey(folder), number);
    const message: IndexedMessage = { ...folder, number, ...fields, size: raw.length, summary: undefined };
    const entry = { message, raw };
    this.stored.set(key(message), entry);
    entry.message = { ...message, summary: await summarize(raw, message) };
    this.emit('change', { kind: 'added', message: entry.message, external: false });
    return entry.message;
  }

  mailboxes(): string[] {
    return [...new Set([...this.highWater.keys()].map((k) => k.split('\n')[0]))].sort();
  }

  folders(mailbox: string): FolderInfo[] {
    return [...this.highWater.keys()]
      .filter((k) => k.split('\n')[0] === mailbox)
      .map((k) => this.folder({ mailbox, folder: k.split('\n')[1] })!)
      .sort((a, b) => (a.folder === inboxName ? -1 : b.folder === inboxName ? 1 : a.folder.localeCompare(b.folder)));
  }

  folder(ref: FolderRef): FolderInfo | undefined {
    const high = this.highWater.get(folderKey(ref));
    if (high === undefined) return undefined;
    const messages = this.messages(ref);
    const unseen = messages.filter((m) => !m.flags.includes('\\Seen')).length;
    return {
      mailbox: ref.mailbox,
      folder: ref.folder,
      uidValidity: 1,
      uidNext: high + 1,
      messages: messages.length,
      unseen,
    };
  }

  async createFolder(folder: FolderRef): Promise<void> {
    if (this.highWater.has(folderKey(folder))) throw Object.assign(new Error('exists'), { code: 'TMS_FOLDER_EXISTS' });
    this.highWater.set(folderKey(folder), 0);
    await Promise.resolve();
  }

  async renameFolder(): Promise<void> {
    await Promise.reject(new Error('MemoryReader does not rename folders'));
  }

  async deleteFolder(folder: FolderRef): Promise<void> {
    await this.remove(
      folder,
      this.messages(folder).map((m) => m.number),
    );
    this.highWater.delete(folderKey(folder));
  }

  messages(folder: FolderRef): readonly IndexedMessage[] {
    return this.allMessages()
      .filter((m) => m.mailbox === folder.mailbox && m.folder === folder.folder)
      .sort((a, b) => a.number - b.number);
  }

  allMessages(): readonly IndexedMessage[] {
    return [...this.stored.values()]
      .map((s) => s.message)
      .sort(
        (a, b) =>
          a.receivedAt.getTime() - b.receivedAt.getTime() ||
          a.mailbox.localeCompare(b.mailbox) ||
          a.folder.localeCompare(b.folder) ||
          a.number - b.number,
      );
  }

  message(ref: MessageRef): IndexedMessage | undefined {
    return this.stored.get(key(ref))?.message;
  }

  transaction(id: string): readonly IndexedMessage[] {
    return this.allMessages().filter((m) => m.transaction === id);
  }

  async summary(ref: MessageRef): Promise<MessageSummary | undefined> {
    return Promise.resolve(this.message(ref)?.summary);
  }

  async read(ref: MessageRef, options: { crlf?: boolean } = {}): Promise<Buffer | undefined> {
    const raw = this.stored.get(key(ref))?.raw;
    if (raw === undefined || !options.crlf) return Promise.resolve(raw);
    return Promise.resolve(Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'));
  }

  async stream(ref: MessageRef): Promise<Readable | undefined> {
    const raw = await this.read(ref);
    return raw === undefined ? undefined : Readable.from([raw]);
  }

  async servedSize(ref: MessageRef): Promise<number | undefined> {
    return (await this.read(ref, { crlf: true }))?.length;
  }

  async append(
    folder: FolderRef,
    bytes: Buffer,
    options: { flags?: readonly Flag[]; receivedAt?: Date } = {},
  ): Promise<IndexedMessage> {
    return this.add(folder, bytes, {
      transaction: undefined,
      envelope: { from: '', to: [folder.mailbox] },
      receivedAt: options.receivedAt ?? new Date((this.clock += 1000)),
      flags: options.flags ?? [],
    });
  }

  async copy(from: FolderRef, numbers: readonly number[], to: FolderRef): Promise<number[]> {
    const copied: number[] = [];
    for (const number of numbers) {
      const source = this.stored.get(key({ ...from, number }));
      if (!source) continue;
      const { transaction, envelope, receivedAt, flags } = source.message;
      copied.push((await this.add(to, source.raw, { transaction, envelope, receivedAt, flags })).number);
    }
    return copied;
  }

  async move(from: FolderRef, numbers: readonly number[], to: FolderRef): Promise<number[]> {
    const moved = await this.copy(from, numbers, to);
    await this.remove(from, numbers);
    return moved;
  }

  async setFlags(
    folder: FolderRef,
    numbers: readonly number[],
    operation: FlagOperation,
    flags: readonly Flag[],
  ): Promise<void> {
    const bad = flags.find((flag) => !/^\\?[^\s:\\]+$/.test(flag));
    if (bad !== undefined) throw Object.assign(new Error(`bad flag name ${bad}`), { code: 'TMS_FLAG_NAME' });
    const changed: Array<{ number: number; flags: readonly Flag[] }> = [];
    for (const number of numbers) {
      const entry = this.stored.get(key({ ...folder, number }));
      if (!entry) continue;
      const before = entry.message.flags;
      const after =
        operation === 'replace'
          ? [...new Set(flags)]
          : operation === 'add'
            ? [...new Set([...before, ...flags])]
            : before.filter((flag) => !flags.includes(flag));
      if (after.length === before.length && after.every((flag) => before.includes(flag))) continue;
      entry.message = { ...entry.message, flags: after };
      changed.push({ number, flags: after });
    }
    if (changed.length > 0) this.emit('change', { kind: 'flags', folder, messages: changed, external: false });
    await Promise.resolve();
  }

  async remove(folder: FolderRef, numbers: readonly number[]): Promise<number[]> {
    const removed = numbers.filter((number) => this.stored.delete(key({ ...folder, number })));
    if (removed.length > 0) this.emit('change', { kind: 'expunged', folder, numbers: removed, external: false });
    return Promise.resolve(removed);
  }

  async expunge(folder: FolderRef, numbers?: readonly number[]): Promise<number[]> {
    const deleted = this.messages(folder)
      .filter((m) => m.flags.includes('\\Deleted') && (numbers === undefined || numbers.includes(m.number)))
      .map((m) => m.number);
    return this.remove(folder, deleted);
  }

  async removeAll(): Promise<void> {
    for (const mailbox of this.mailboxes()) {
      for (const folder of this.folders(mailbox))
        await this.remove(
          folder,
          this.messages(folder).map((m) => m.number),
        );
    }
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  watch(scope: FolderRef | { readonly mailbox: string } | 'all', listener: (change: StoreChange) => void): Watch {
    const inScope = (ref: { mailbox: string; folder: string }) =>
      scope === 'all' || (ref.mailbox === scope.mailbox && (!('folder' in scope) || ref.folder === scope.folder));
    const forward = (change: StoreChange) => {
      if (inScope(change.kind === 'added' ? change.message : change.folder)) listener(change);
    };
    this.on('change', forward);
    return { snapshot: this.allMessages().filter(inScope), close: () => this.off('change', forward) };
  }
}

/** A summary made the way the store's contract describes it, from our parser. */
async function summarize(raw: Buffer, message: IndexedMessage): Promise<MessageSummary> {
  const parsed = await parseMessage(raw, message);
  const body = parsed.html !== undefined ? parsed.html.replace(/<[^>]*>/g, ' ') : (parsed.text ?? '');
  const plain = body.replace(/\s+/g, ' ').trim();
  const header = (name: string) => parsed.headers[name]?.join(' ') ?? '';
  return {
    from: parsed.from,
    to: parsed.to,
    cc: parsed.cc,
    bcc: [],
    replyTo: parsed.replyTo,
    subject: parsed.subject,
    date: parsed.date,
    messageId: (parsed.messageId ?? '').replace(/^<(.*)>$/, '$1'),
    attachments: parsed.attachments.filter((part) => !isInline(part)).length,
    inline: parsed.attachments.filter(isInline).length,
    snippet: plain.length <= 200 ? plain : `${plain.slice(0, 200)}...`,
    searchText: cleanString(
      ['from', 'subject', 'to', 'cc', 'bcc', 'reply-to', 'return-path'].map(header).join(' ') + ' ' + plain,
    ),
  };
}
