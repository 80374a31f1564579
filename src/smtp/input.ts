import { isUtf8 } from 'node:buffer';

/**
 * The bytes a client sent and we have not consumed yet, read three ways: as command lines,
 * as a dot-terminated DATA body (dot-unstuffed, RFC 5321 §4.5.2), or as a counted BDAT chunk
 * (RFC 3030). Pipelined input simply stays here until the session asks for it. The chunks are
 * kept as they arrived and never joined, except the few bytes of a command line that spans two.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const lineThenDot = Buffer.from('\n.');
const dot = Buffer.from('.');
const dotCr = Buffer.from('.\r');
const cr = Buffer.from('\r');

/** Where body bytes go. */
export interface ChunkSink {
  write(chunk: Buffer): void;
}

/** `utf8`: the line's bytes are valid UTF-8 (if not, `line` has U+FFFD where they are not). */
export type LineResult = { line: string; utf8: boolean } | { tooLong: true } | undefined;

/**
 * Where the DATA scan stands: inside a line, at the start of one, or past the dot (and the CR)
 * that starts one, waiting for the byte that tells a stuffed dot from the end of the message.
 */
type Scan = 'inLine' | 'lineStart' | 'dot' | 'dotCr';

export class SmtpInput {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Skipping the rest of an over-long command line. */
  private skippingLine = false;
  private scan: Scan = 'lineStart';
  /** The current line started after CRLF (or at the start of DATA): only such a "." line ends DATA. */
  private afterCrlf = true;
  /** The last byte of the previous chunk was a CR (its LF may open the next). */
  private lastWasCr = false;

  constructor(private readonly maxLineLength: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  get buffered(): number {
    return this.size;
  }

  /** Drops everything buffered (after STARTTLS, plaintext sent ahead must not be obeyed). */
  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  /** The next line without its CRLF (a bare LF also ends a line); undefined until one is complete. */
  readLine(): LineResult {
    const end = this.indexOfLf();
    if (end < 0) return this.incompleteLine();
    if (this.skippingLine) {
      this.skippingLine = false;
      this.drop(end + 1);
      return this.readLine();
    }
    const bytes = this.take(end + 1);
    const length = end > 0 && bytes[end - 1] === CR ? end - 1 : end;
    if (length > this.maxLineLength) return { tooLong: true };
    const text = bytes.subarray(0, length);
    return { line: text.toString('utf8'), utf8: isUtf8(text) };
  }

  /** Call when DATA starts: the first body byte begins a line. */
  startData(): void {
    this.scan = 'lineStart';
    this.afterCrlf = true;
    this.lastWasCr = false;
  }

  /**
   * Feeds body bytes to `sink` until the end of the message; true once it was consumed. Only
   * CRLF "." CRLF ends it (a bare LF on either side of the dot does not: SMTP smuggling); any
   * other line that is just "." stays in the body, dot and all. A leading dot followed by more
   * of its line, after CRLF or a bare LF, is a stuffed one and dropped.
   */
  readData(sink: ChunkSink): boolean {
    while (this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const end = this.scanData(chunk, sink);
      if (end >= 0) {
        this.drop(end);
        return true;
      }
      this.chunks.shift();
      this.size -= chunk.length;
    }
    return false;
  }

  /** Feeds up to `count` raw bytes to `sink`; returns how many it took. */
  readBytes(count: number, sink: ChunkSink): number {
    let taken = 0;
    while (taken < count && this.chunks.length > 0) {
      const first = this.chunks[0];
      const part = Math.min(first.length, count - taken);
      sink.write(part === first.length ? first : first.subarray(0, part));
      this.drop(part);
      taken += part;
    }
    return taken;
  }

  /**
   * One chunk of a DATA body: the body bytes in it go to `sink` (as slices of it); returns the
   * offset just past the end of the message, or -1 if the chunk was all body.
   */
  private scanData(buffer: Buffer, sink: ChunkSink): number {
    let position = 0;
    /** Start of the bytes not yet given to the sink. */
    let from = 0;
    while (position < buffer.length) {
      const byte = buffer[position];
      if (this.scan === 'inLine') {
        position = this.nextLineStart(buffer, position);
      } else if (this.scan === 'lineStart') {
        this.scan = byte === DOT ? 'dot' : 'inLine';
        if (byte !== DOT) continue;
        // The dot is held back until the next byte tells what it is.
        emit(sink, buffer, from, position++);
        from = position;
      } else if (this.scan === 'dot') {
        if (byte === CR) from = position + 1;
        this.afterDot(buffer, position++, sink);
      } else {
        if (byte === LF && this.afterCrlf) {
          this.startData();
          return position + 1;
        }
        this.afterDotCr(buffer, position, sink);
        if (byte === LF) position++;
      }
    }
    emit(sink, buffer, from, buffer.length);
    this.lastWasCr = buffer[buffer.length - 1] === CR;
    return -1;
  }

  /** The byte after a line's leading dot. */
  private afterDot(buffer: Buffer, position: number, sink: ChunkSink): void {
    const byte = buffer[position];
    if (byte === CR) {
      this.scan = 'dotCr';
    } else if (byte === LF) {
      // A "." line ended by a bare LF is body (the LF follows with the next slice).
      sink.write(dot);
      this.lineStartAt(buffer, position);
    } else {
      // A stuffed dot: dropped; the byte is part of the line.
      this.scan = 'inLine';
    }
  }

  /** The byte after a line's leading dot and CR, when they do not end the message. */
  private afterDotCr(buffer: Buffer, position: number, sink: ChunkSink): void {
    if (buffer[position] === LF) {
      // A "." line after a bare LF stays whole (its LF follows with the next slice).
      sink.write(dotCr);
      this.lineStartAt(buffer, position);
    } else {
      // The dot was stuffed; the CR is body, and the byte is part of the line.
      sink.write(cr);
      this.scan = 'inLine';
    }
  }

  /** Inside a line: jumps to the next line that starts with a dot (the only ones that matter). */
  private nextLineStart(buffer: Buffer, position: number): number {
    const found = buffer.indexOf(lineThenDot, position);
    if (found >= 0) {
      this.lineStartAt(buffer, found);
      return found + 1;
    }
    // A line may still start in the next chunk.
    const last = buffer.length - 1;
    if (buffer[last] === LF) this.lineStartAt(buffer, last);
    return buffer.length;
  }

  /** A line starts after the LF at `lf`. */
  private lineStartAt(buffer: Buffer, lf: number): void {
    this.scan = 'lineStart';
    this.afterCrlf = lf > 0 ? buffer[lf - 1] === CR : this.lastWasCr;
  }

  /** Offset of the first LF in what is buffered, or -1. */
  private indexOfLf(): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      const at = chunk.indexOf(LF);
      if (at >= 0) return offset + at;
      offset += chunk.length;
    }
    return -1;
  }

  private incompleteLine(): LineResult {
    // Room for the CR of a line of the longest length, whose LF is yet to come.
    if (this.size <= this.maxLineLength + 1) return undefined;
    // Keep nothing of an endless line, so it costs no memory; report it once.
    this.clear();
    if (this.skippingLine) return undefined;
    this.skippingLine = true;
    return { tooLong: true };
  }

  /** The first `count` bytes, removed; joined only if they span chunks. */
  private take(count: number): Buffer {
    const first = this.chunks[0];
    const bytes = first.length >= count ? first.subarray(0, count) : Buffer.concat(this.chunks, count);
    this.drop(count);
    return bytes;
  }

  private drop(count: number): void {
    this.size -= count;
    while (count > 0) {
      const first = this.chunks[0];
      if (first.length > count) {
        this.chunks[0] = first.subarray(count);
        return;
      }
      count -= first.length;
      this.chunks.shift();
    }
  }
}

function emit(sink: ChunkSink, buffer: Buffer, from: number, to: number): void {
  if (to > from) sink.write(buffer.subarray(from, to));
}
