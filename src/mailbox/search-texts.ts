/**
 * The search texts and snippets of the index's summaries (see `summarize`), in one file under
 * MAIL_DIR/.tmp instead of on the heap: at 100,000 messages they are over 100 MiB of strings
 * (the snippets alone 21 MiB, which the heap's slack then almost doubles). Each message has two
 * records, its snippet then its text, each with a '\n' after it (a snippet's white space is
 * collapsed and a cleaned text holds none, so no match crosses two records); the heap keeps where
 * each record starts, and each summary the position of its first record
 * (`MessageSummary.textRecord`), valid until the file is next rewritten.
 *
 * A search reads the file once, in chunks, and finds each term with `Buffer.indexOf` of its UTF-8
 * bytes: UTF-8 is self-synchronizing, so a byte match is a character match. A record no live
 * message holds is dead space; the file is rewritten without them once they outweigh the rest.
 */
import * as fs from 'node:fs';
import type { Logger } from '../log.js';
import { writeAll } from './mh-folder.js';
import type { MessageSummary, TextMatcher, TextRecord } from './reader.js';

/** A summary and its two records for the file, snippet then search text, as `encodeSearchTexts` makes them. */
export interface EncodedText {
  readonly summary: MessageSummary;
  readonly searchText: Uint8Array;
}

/** What a message's records are made of. */
export interface MessageTexts {
  readonly snippet: string;
  readonly text: string;
}

/**
 * Bytes read at a time when searching. Small enough to stay in the CPU's cache between the copy
 * out of the page cache and the search of it: chunks of 64 KiB read and search 100 MiB several
 * times faster than chunks of 4 MiB do.
 */
export const chunkBytes = 64 * 1024;
/** Appended bytes before the file is looked at for dead records again (a search looks at once after a removal). */
const minSweepBytes = 1024 * 1024;
const separator = '\n';
const separatorByte = 0x0a;

export interface SearchTextsDisk {
  /** A new file under MAIL_DIR/.tmp (removed at start if this process died), open for writing. */
  createTemp(): { file: string; fd: number };
  /** Calls `visit` with the summary of every message the index holds (copies share theirs). */
  forEachLive(visit: (summary: MessageSummary) => void): void;
  readonly log: Logger;
}

interface TextFile {
  readonly file: string;
  readonly writer: number;
  readonly reader: number;
}

/** Where each record starts, by position in the file; a generation lasts until the next rewrite. */
class RecordTable {
  starts: Float64Array = new Float64Array(1024);
  count = 0;

  constructor(readonly generation: number) {}

  /** A record that starts at `start`, after the others; `record` is its handle from now on. */
  push(start: number, record?: TextRecord): void {
    if (this.count === this.starts.length) {
      const bigger = new Float64Array(this.count * 2);
      bigger.set(this.starts);
      this.starts = bigger;
    }
    if (record) this.assign(record, this.count);
    this.starts[this.count++] = start;
  }

  assign(record: TextRecord, position: number): void {
    record.position = position;
    record.generation = this.generation;
  }

  /** The position of `record` in this table, or -1 when it is not (or no longer) one of its first `count`. */
  positionOf(record: TextRecord, count = this.count): number {
    return record.generation === this.generation && record.position < count ? record.position : -1;
  }

  /** The record the byte at `offset` belongs to. */
  positionAt(offset: number): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.starts[middle] <= offset) low = middle + 1;
      else high = middle - 1;
    }
    return high;
  }
}

/**
 * Each message's records, a view of one buffer: what the scan threads send (the buffer moves
 * between threads in one piece, and is written in one piece).
 */
export function encodeSearchTexts(texts: readonly MessageTexts[]): { buffer: ArrayBuffer; records: Uint8Array[] } {
  const recordTexts = texts.map(({ snippet, text }) => snippet + separator + text + separator);
  const lengths = recordTexts.map((record) => Buffer.byteLength(record));
  // A buffer of its own, which can be moved (Buffer.from(string) may take a slice of a shared pool).
  const buffer = new ArrayBuffer(lengths.reduce((sum, length) => sum + length, 0));
  const bytes = Buffer.from(buffer);
  let start = 0;
  const records = recordTexts.map((record, i) => {
    bytes.write(record, start);
    start += lengths[i];
    return new Uint8Array(buffer, start - lengths[i], lengths[i]);
  });
  return { buffer, records };
}

/** The views as one buffer: a view of theirs when they lie one after the other in one buffer (as a scan thread sends them), else a copy. */
function inOnePiece(views: readonly Uint8Array[]): Buffer {
  const [first] = views;
  let end = first.byteOffset;
  for (const view of views) {
    if (view.buffer !== first.buffer || view.byteOffset !== end) return Buffer.concat(views);
    end += view.byteLength;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

export class SearchTexts {
  private text: TextFile | undefined;
  private records = new RecordTable(1);
  /** Bytes in the file, records and separators. */
  private end = 0;
  private liveAtSweep = 0;
  private appendedSinceSweep = 0;
  /** A message was removed since the last sweep: its record may be dead. */
  private removals = false;
  private closed = false;

  constructor(private readonly disk: SearchTextsDisk) {}

  /**
   * Appends the records in one write; each summary's text is searchable and its snippet
   * readable from then on (its `textRecord` says where). A summary whose records could not be
   * written keeps position -1, so the index keeps its snippet on the heap.
   */
  add(texts: readonly EncodedText[]): void {
    if (this.closed || texts.length === 0) return;
    // Before these are appended: they are live only once the index holds their summaries.
    if (this.appendedSinceSweep >= Math.max(this.liveAtSweep, minSweepBytes)) this.sweep();
    const bytes = inOnePiece(texts.map(({ searchText }) => searchText));
    try {
      this.text ??= this.openFile();
      writeAll(this.text.writer, bytes, this.end);
    } catch (error) {
      return this.disk.log.warning(`Cannot keep search texts: ${(error as Error).message}`);
    }
    let start = this.end;
    for (const { summary, searchText } of texts) {
      this.records.push(start, summary.textRecord);
      this.records.push(start + searchText.indexOf(separatorByte) + 1);
      start += searchText.byteLength;
    }
    this.end += bytes.length;
    this.appendedSinceSweep += bytes.length;
  }

  /** The snippet of a summary whose records are in the file; undefined if they are not (or no longer). */
  snippetOf(record: TextRecord): string | undefined {
    const at = this.records.positionOf(record);
    return at < 0 || !this.text ? undefined : this.readRecord(at).toString('utf8');
  }

  /** Messages were removed: their records may be dead, which the next search or sweep finds out. */
  noteRemovals(): void {
    this.removals = true;
  }

  /** See `MailReader.textMatcher`. */
  matcher(values: readonly string[]): TextMatcher {
    if (this.removals) this.sweep();
    const terms = [...new Set(values)].filter((value) => value !== '');
    const hits = this.scan(terms.map((value) => Buffer.from(value)));
    const found = new Map(terms.map((value, i) => [value, hits[i]]));
    const { records } = this;
    const scanned = records.count;
    return (summary, value) => {
      if (value === '') return true;
      const at = records.positionOf(summary.textRecord, scanned);
      const marks = found.get(value);
      // A record added or moved after the scan, or a value it was not asked for, is read on its own.
      return at >= 0 && marks !== undefined ? marks[at + 1] === 1 : this.recordHolds(summary.textRecord, value);
    };
  }

  /** Removes the file; texts added later are not kept. */
  close(): void {
    this.closed = true;
    if (this.text) this.removeFile(this.text);
    this.text = undefined;
  }

  /** One pass over the file for every term: per term, a mark for each record holding it. */
  private scan(terms: readonly Buffer[]): Uint8Array[] {
    const marks = terms.map(() => new Uint8Array(this.records.count));
    if (terms.length === 0 || !this.text) return marks;
    // A term may straddle two chunks: the tail of one is searched again at the start of the next.
    const overlap = Math.max(...terms.map((term) => term.length)) - 1;
    const buffer = Buffer.allocUnsafe(Math.max(chunkBytes, 2 * overlap + 1));
    let base = 0;
    let kept = 0;
    for (;;) {
      const wanted = Math.min(buffer.length - kept, this.end - base - kept);
      const read = wanted > 0 ? fs.readSync(this.text.reader, buffer, kept, wanted, base + kept) : 0;
      if (read === 0) return marks;
      const chunk = buffer.subarray(0, kept + read);
      terms.forEach((term, i) => this.markHits(chunk, base, term, marks[i]));
      kept = Math.min(overlap, chunk.length);
      buffer.copy(buffer, 0, chunk.length - kept, chunk.length);
      base += chunk.length - kept;
    }
  }

  /** Marks every record of `chunk` (at `base` in the file) that holds `term`, looking at each at most once. */
  private markHits(chunk: Buffer, base: number, term: Buffer, marks: Uint8Array): void {
    const { starts, count } = this.records;
    for (let at = chunk.indexOf(term); at >= 0;) {
      const position = this.records.positionAt(base + at);
      marks[position] = 1;
      const next = position + 1 < count ? starts[position + 1] - base : chunk.length;
      at = next < chunk.length ? chunk.indexOf(term, next) : -1;
    }
  }

  private recordHolds(record: TextRecord, value: string): boolean {
    const at = this.records.positionOf(record);
    return at >= 0 && this.text !== undefined && this.readRecord(at + 1).includes(value);
  }

  /** Record `at`, without its separator. */
  private readRecord(at: number): Buffer {
    const bytes = Buffer.allocUnsafe(this.recordEnd(at) - this.records.starts[at]);
    fs.readSync(this.text!.reader, bytes, 0, bytes.length, this.records.starts[at]);
    return bytes;
  }

  /** Where record `at`'s separator is. */
  private recordEnd(at: number): number {
    return (at + 1 < this.records.count ? this.records.starts[at + 1] : this.end) - 1;
  }

  /** Finds which records live messages hold; rewrites the file without the others when they outweigh them. */
  private sweep(): void {
    /** By the position of a message's first record, the handle naming it. */
    const live = new Array<TextRecord | undefined>(this.records.count);
    /** Every record a live message holds: both of each. */
    const kept = new Uint8Array(this.records.count);
    let liveBytes = 0;
    this.disk.forEachLive(({ textRecord }) => {
      const at = this.records.positionOf(textRecord);
      if (at < 0 || live[at]) return;
      live[at] = textRecord;
      kept[at] = kept[at + 1] = 1;
      liveBytes += this.recordEnd(at + 1) + 1 - this.records.starts[at];
    });
    this.removals = false;
    this.appendedSinceSweep = 0;
    this.liveAtSweep = liveBytes;
    if (this.end - liveBytes > liveBytes) this.compact(live, kept);
  }

  /** Copies the live records to a new file, in order, and drops the old one (kept if the copy fails). */
  private compact(live: ReadonlyArray<TextRecord | undefined>, kept: Uint8Array): void {
    let next: TextFile | undefined;
    try {
      next = this.openFile();
      const { records, end } = this.copyLive(kept, next);
      this.removeFile(this.text!);
      [this.text, this.records, this.end] = [next, records, end];
    } catch (error) {
      if (next) this.removeFile(next);
      return this.disk.log.warning(`Cannot compact search texts: ${(error as Error).message}`);
    }
    // Only now, the copy done: until then every handle must still name the old file's record.
    let position = 0;
    kept.forEach((isKept, at) => {
      if (!isKept) return;
      const record = live[at];
      if (record) this.records.assign(record, position);
      position++;
    });
  }

  /** Copies each run of kept records with one read and write per chunk. */
  private copyLive(kept: Uint8Array, next: TextFile): { records: RecordTable; end: number } {
    const { starts, count, generation } = this.records;
    const records = new RecordTable(generation + 1);
    const buffer = Buffer.allocUnsafe(chunkBytes);
    let end = 0;
    for (let first = 0; first < count; first++) {
      if (!kept[first]) continue;
      let last = first;
      while (last + 1 < count && kept[last + 1]) last++;
      for (let at = first; at <= last; at++) records.push(end + starts[at] - starts[first]);
      end += copyRange(this.text!.reader, next.writer, starts[first], this.recordEnd(last) + 1, end, buffer);
      first = last;
    }
    return { records, end };
  }

  private openFile(): TextFile {
    const { file, fd } = this.disk.createTemp();
    try {
      return { file, writer: fd, reader: fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW) };
    } catch (error) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw error;
    }
  }

  private removeFile(text: TextFile): void {
    fs.closeSync(text.writer);
    fs.closeSync(text.reader);
    try {
      fs.rmSync(text.file, { force: true });
    } catch (error) {
      this.disk.log.warning(`could not remove ${text.file}: ${(error as Error).message}`);
    }
  }
}

/** Copies bytes [from, to) of one file to `at` in another; returns how many. */
function copyRange(source: number, target: number, from: number, to: number, at: number, buffer: Buffer): number {
  for (let done = 0; from + done < to;) {
    const read = fs.readSync(source, buffer, 0, Math.min(buffer.length, to - from - done), from + done);
    if (read === 0) throw new Error('search texts file ended early');
    writeAll(target, buffer.subarray(0, read), at + done);
    done += read;
  }
  return to - from;
}
