/**
 * What the store offers its readers (IMAP, POP3, the HTTP API and web UI, the test waiters): one
 * interface, so that no reader touches paths or `.mh_sequences`, and none re-solves "subscribe,
 * then list, without missing what arrives in between". Readers speak in mailboxes
 * (`bob@doh.hi.gov`), folders (`INBOX`, `Sent`, `Lists/Work`) and MH message numbers, which are
 * also the IMAP UIDs (never reused within one UIDVALIDITY).
 *
 * Everything a reader sees comes from the store's index, kept in memory and updated
 * synchronously with each change the store makes, and within a second of each change another
 * process makes (see `StoreChange.external`). Events are emitted after the index is updated,
 * so a listener that looks at the index sees the change it is told about.
 */
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/** The mailbox's own MH folder, `MAIL_DIR/<domain>/<local-part>`; other folders are MH sub-folders of it. */
export const inboxName = 'INBOX';

/** A folder of one mailbox. `folder` is `INBOX` or a `/`-separated sub-folder name (`Lists/Work`). */
export interface FolderRef {
  /** `local@domain`, the domain lowercased. */
  readonly mailbox: string;
  readonly folder: string;
}

/** One stored message: a folder and its MH number (the file name, the IMAP UID). */
export interface MessageRef extends FolderRef {
  readonly number: number;
}

/**
 * Flags as IMAP names them: the system flags `\Seen`, `\Answered`, `\Flagged`, `\Deleted`,
 * `\Draft`, and keywords (`$Forwarded`, `work`). On disk they are MH sequences: `\Seen` is the
 * absence from `unseen`, `\Flagged` is `flagged`, `\Answered` is `replied`, `\Deleted` is
 * `deleted`, `\Draft` is `draft`, and a keyword is a sequence of its own name.
 */
export type Flag = string;
export const systemFlags = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;

/** The SMTP envelope: `from` is MAIL FROM ('' for `<>`), `to` every RCPT TO of the transaction. */
export interface MessageEnvelope {
  readonly from: string;
  readonly to: readonly string[];
}

/** An address from a header, decoded; `name` is '' when there is none. */
export interface HeaderAddress {
  readonly name: string;
  readonly address: string;
}

/** What a message list shows, read from the header block and the body once, then kept. */
export interface MessageSummary {
  readonly from: HeaderAddress | undefined;
  readonly to: readonly HeaderAddress[];
  readonly cc: readonly HeaderAddress[];
  readonly bcc: readonly HeaderAddress[];
  readonly replyTo: readonly HeaderAddress[];
  /** Decoded; '' when missing. */
  readonly subject: string;
  /** The Date header; undefined when missing or unparseable. */
  readonly date: Date | undefined;
  /** Without angle brackets; '' when missing. */
  readonly messageId: string;
  /** Parts that are attachments (not inline parts with a Content-ID that the HTML shows). */
  readonly attachments: number;
  /** Inline parts (with a Content-ID). */
  readonly inline: number;
  /** Plain text from the HTML (else the text part), white space collapsed, at most 200 characters. */
  readonly snippet: string;
  /** Where the store keeps the message's search text (see `TextMatcher`); only the store reads or changes it. */
  readonly textRecord: TextRecord;
}

/** A search text's place in the store's file of them: its position there, valid for one generation of the file. */
export interface TextRecord {
  position: number;
  generation: number;
}

/**
 * Whether the search text of a message (From, To, Cc, Bcc, Reply-To, Return-Path, Subject and
 * the body as plain text, cleaned as `cleanString` cleans) holds `value`, one of the values the
 * matcher was made for (see `MailReader.textMatcher`).
 */
export type TextMatcher = (summary: MessageSummary, value: string) => boolean;

/** One stored message as the index knows it: the same object for its life; flags and summary are updated in place. */
export interface IndexedMessage extends MessageRef {
  /**
   * The id of the SMTP transaction that delivered it (the queue id of our Received line, also
   * in the 250 reply). The copies of one message to several recipients share it; a message
   * that came another way (IMAP APPEND, a file dropped in) has none.
   */
  readonly transaction: string | undefined;
  /**
   * For a delivery this store saw, its envelope; otherwise read from the trace lines, with `to`
   * the recipients of every copy of the same transaction found in MAIL_DIR.
   */
  readonly envelope: MessageEnvelope;
  /** When it was received (IMAP's internal date). */
  readonly receivedAt: Date;
  /** The same, in milliseconds since the epoch: what sorting and comparing use (no Date made). */
  readonly receivedMs: number;
  /** Bytes of the file as stored. */
  readonly size: number;
  readonly flags: readonly Flag[];
  /** Undefined until summarized; `MailReader.summary` fills it. */
  readonly summary: MessageSummary | undefined;
}

export interface FolderInfo extends FolderRef {
  /** IMAP UIDVALIDITY: stable for the folder's life, new when it is recreated. */
  readonly uidValidity: number;
  /** The next number (UID) the folder will give out: the high-water mark + 1. */
  readonly uidNext: number;
  readonly messages: number;
  readonly unseen: number;
}

/** Every change to the store, from this process or (`external: true`) another process or tool. */
export type StoreChange =
  | { readonly kind: 'added'; readonly message: IndexedMessage; readonly external: boolean }
  | {
      readonly kind: 'expunged';
      readonly folder: FolderRef;
      readonly numbers: readonly number[];
      readonly external: boolean;
    }
  | {
      readonly kind: 'flags';
      readonly folder: FolderRef;
      /** The new flags of each message whose flags changed. */
      readonly messages: ReadonlyArray<{ readonly number: number; readonly flags: readonly Flag[] }>;
      readonly external: boolean;
    }
  | {
      readonly kind: 'folder';
      readonly folder: FolderRef;
      /** `recreated`: same name, new UIDVALIDITY (numbers restarted, or reused by another tool). */
      readonly change: 'created' | 'removed' | 'recreated' | 'renamed';
      /** For `renamed`, the new name. */
      readonly to?: string;
      readonly external: boolean;
    };

export interface StoreEvents {
  change: [StoreChange];
}

/** How flags change: IMAP STORE's FLAGS, +FLAGS and -FLAGS. */
export type FlagOperation = 'replace' | 'add' | 'remove';

/** A byte range of the message as served (CRLF line ends), for IMAP partial fetches. */
export interface ByteRange {
  readonly start: number;
  /** Exclusive; default the end. */
  readonly end?: number;
}

export interface ReadOptions {
  /**
   * Serve CRLF line ends, as IMAP and POP3 must: files that other tools wrote with bare LF
   * (Python's `mailbox.MH.add`, nmh `inc`) are converted; files with CRLF are served byte for
   * byte. Default false: the file's bytes exactly as stored.
   */
  readonly crlf?: boolean;
  readonly range?: ByteRange;
}

/** Watching: the index's messages now, and every change after them, nothing lost or doubled. */
export interface Watch {
  /** Messages of the watched scope at the moment the watch began, oldest first. */
  readonly snapshot: readonly IndexedMessage[];
  /**
   * Whether the first scan of MAIL_DIR was done when the watch began. Until it is, messages it
   * finds join the index without change events: a watch begun earlier takes the index again
   * once `indexed` resolves.
   */
  readonly complete: boolean;
  close(): void;
}

/** A folder name that is refused, a folder that exists or is missing: errors readers turn into replies. */
export type FolderErrorCode = 'TMS_FOLDER_NAME' | 'TMS_FOLDER_EXISTS' | 'TMS_NO_FOLDER' | 'TMS_INBOX' | 'TMS_FLAG_NAME';

export interface MailReader extends EventEmitter<StoreEvents> {
  /** Resolves once the index holds every message stored at start (it is built in the background). */
  readonly indexed: Promise<void>;

  /** Every mailbox that has a folder, sorted. */
  mailboxes(): string[];
  /** The folders of a mailbox, INBOX first, then by name; [] for an unknown mailbox. */
  folders(mailbox: string): FolderInfo[];
  /** Creates a folder (and missing parents); throws TMS_FOLDER_NAME or TMS_FOLDER_EXISTS. */
  createFolder(folder: FolderRef): Promise<void>;
  /** Renames a folder and its sub-folders; renaming INBOX moves its messages (RFC 3501 §6.3.5). */
  renameFolder(folder: FolderRef, newName: string): Promise<void>;
  /** Deletes a folder with its messages; throws TMS_INBOX for INBOX. */
  deleteFolder(folder: FolderRef): Promise<void>;
  /** UIDVALIDITY, UIDNEXT and counts; undefined when the folder does not exist. */
  folder(folder: FolderRef): FolderInfo | undefined;

  /** The messages of a folder, by number; [] for an unknown folder. */
  messages(folder: FolderRef): readonly IndexedMessage[];
  /** Every message of every mailbox and folder, oldest first. */
  allMessages(): readonly IndexedMessage[];
  /** One message; undefined when it is not (or no longer) stored. */
  message(ref: MessageRef): IndexedMessage | undefined;
  /** The copies of one SMTP transaction, across mailboxes. */
  transaction(id: string): readonly IndexedMessage[];

  /** The message's summary, parsing it if needed (cached in the index entry). */
  summary(ref: MessageRef): Promise<MessageSummary | undefined>;
  /**
   * For one search: finds at once, in one pass over every stored search text, which hold each
   * of `values` (cleaned by `cleanString`), then answers for any summary. Summaries made later
   * are looked at one by one, so make it when the search starts.
   */
  textMatcher(values: readonly string[]): TextMatcher;
  /** Bytes of the message (see ReadOptions); undefined when it is gone. */
  read(ref: MessageRef, options?: ReadOptions): Promise<Buffer | undefined>;
  /** The same as a stream, for large messages. */
  stream(ref: MessageRef, options?: ReadOptions): Promise<Readable | undefined>;
  /** Size in octets as served with CRLF line ends (IMAP RFC822.SIZE, POP3 LIST). */
  servedSize(ref: MessageRef): Promise<number | undefined>;

  /** Adds a message (IMAP APPEND, the HTTP send API) through the same atomic numbering as delivery. */
  append(
    folder: FolderRef,
    bytes: Buffer,
    options?: { flags?: readonly Flag[]; receivedAt?: Date },
  ): Promise<IndexedMessage>;
  /** Copies messages to another folder (of any mailbox); resolves with the new numbers, in order. */
  copy(from: FolderRef, numbers: readonly number[], to: FolderRef): Promise<number[]>;
  /** Copies, then removes the originals. */
  move(from: FolderRef, numbers: readonly number[], to: FolderRef): Promise<number[]>;
  /**
   * Changes the flags of several messages in one rewrite of `.mh_sequences`. Throws TMS_FLAG_NAME
   * for a keyword MH cannot hold as a sequence name. Numbers no longer stored are skipped.
   */
  setFlags(
    folder: FolderRef,
    numbers: readonly number[],
    operation: FlagOperation,
    flags: readonly Flag[],
  ): Promise<void>;
  /** Removes these messages now (HTTP delete, POP3 DELE); resolves with the numbers actually removed. */
  remove(folder: FolderRef, numbers: readonly number[]): Promise<number[]>;
  /**
   * Removes the messages flagged \Deleted (only among `numbers` when given, as UID EXPUNGE);
   * resolves with the numbers actually removed.
   */
  expunge(folder: FolderRef, numbers?: readonly number[]): Promise<number[]>;

  /** Deletes every message of every mailbox and folder (folders and their numbering stay). */
  removeAll(): Promise<void>;

  /**
   * Compares the index with the disk now, for a reader about to list that wants what other
   * processes did a moment ago too (a watch does this by itself).
   */
  refresh(scope?: { readonly mailbox?: string }): Promise<void>;

  /**
   * Calls `listener` with every change in scope from now on (a folder, a mailbox with all its
   * folders, or everything), and returns the messages in scope now, in one step. While a watch
   * is open, changes other processes make in its scope are noticed within a second.
   */
  watch(scope: FolderRef | { readonly mailbox: string } | 'all', listener: (change: StoreChange) => void): Watch;
}
