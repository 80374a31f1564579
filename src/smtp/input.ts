/**
 * The bytes a client sent and we have not consumed yet, read three ways: as command lines,
 * as a dot-terminated DATA body (dot-unstuffed, RFC 5321 §4.5.2), or as a counted BDAT chunk
 * (RFC 3030). Pipelined input simply stays here until the session asks for it.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const lineThenDot = Buffer.from('\n.');

/** Where body bytes go. */
export interface ChunkSink {
  write(chunk: Buffer): void;
}

export type LineResult = { line: string } | { tooLong: true } | undefined;

export class SmtpInput {
  private pending: Buffer = Buffer.alloc(0);
  /** DATA state: the next byte starts a line (where a leading dot means something). */
  private atLineStart = true;
  /** Skipping the rest of an over-long command line. */
  private skippingLine = false;

  constructor(private readonly maxLineLength: number) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  get buffered(): number {
    return this.pending.length;
  }

  /** Drops everything buffered (after STARTTLS, plaintext sent ahead must not be obeyed). */
  clear(): void {
    this.pending = Buffer.alloc(0);
  }

  /** The next line without its CRLF (a bare LF also ends a line); undefined until one is complete. */
  readLine(): LineResult {
    const end = this.pending.indexOf(LF);
    if (end < 0) {
      // Room for the CR of a line of the longest length, whose LF is yet to come.
      if (this.pending.length <= this.maxLineLength + 1) return undefined;
      // Keep only the tail so an endless line costs no memory; report it once.
      this.pending = Buffer.alloc(0);
      if (this.skippingLine) return undefined;
      this.skippingLine = true;
      return { tooLong: true };
    }
    const bytes = this.pending.subarray(0, end > 0 && this.pending[end - 1] === CR ? end - 1 : end);
    this.pending = this.pending.subarray(end + 1);
    if (this.skippingLine) {
      this.skippingLine = false;
      return this.readLine();
    }
    if (bytes.length > this.maxLineLength) return { tooLong: true };
    return { line: bytes.toString('utf8') };
  }

  /** Call when DATA starts: the first body byte begins a line. */
  startData(): void {
    this.atLineStart = true;
  }

  /**
   * Feeds body bytes to `sink` until the terminating `.` line; true once it was consumed.
   * Only `\n.` needs a look, so the search jumps from one to the next natively.
   */
  readData(sink: ChunkSink): boolean {
    const buffer = this.pending;
    let position = 0;
    for (;;) {
      if (this.atLineStart) {
        if (position >= buffer.length) break;
        if (buffer[position] === DOT) {
          const next = buffer[position + 1];
          if (next === undefined) break;
          if (next === LF || next === CR) {
            if (next === CR && buffer[position + 2] === undefined) break;
            if (next === LF || buffer[position + 2] === LF) {
              this.pending = buffer.subarray(position + (next === LF ? 2 : 3));
              return true;
            }
          }
          position++; // dot-unstuffing: a leading dot was doubled by the client
        }
        this.atLineStart = false;
      }
      const found = buffer.indexOf(lineThenDot, position);
      if (found < 0) {
        if (position < buffer.length) sink.write(buffer.subarray(position));
        this.atLineStart = buffer[buffer.length - 1] === LF && buffer.length > position;
        position = buffer.length;
        break;
      }
      sink.write(buffer.subarray(position, found + 1));
      position = found + 1;
      this.atLineStart = true;
    }
    this.pending = buffer.subarray(position);
    return false;
  }

  /** Feeds up to `count` raw bytes to `sink`; returns how many it took. */
  readBytes(count: number, sink: ChunkSink): number {
    const taken = Math.min(count, this.pending.length);
    if (taken === 0) return 0;
    sink.write(this.pending.subarray(0, taken));
    this.pending = this.pending.subarray(taken);
    return taken;
  }
}
