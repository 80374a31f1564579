/**
 * SmtpInput, table-driven: command lines, over-long lines, DATA bodies (dot-unstuffing, where
 * they end) and BDAT byte counts. Every case is also fed split at every position, since a TCP
 * chunk can end anywhere.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SmtpInput, type LineResult } from '../../src/smtp/input.js';

const maxLine = 32;
/** How `lines` shows an over-long line. */
const tooLong = '<too long>';

/** `text` split so that a chunk ends after each position in `cuts`. */
function chunks(text: string, cuts: readonly number[] = []): Buffer[] {
  const bytes = Buffer.from(text, 'latin1');
  const points = [0, ...cuts.filter((cut) => cut > 0 && cut < bytes.length), bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

/** Every way to cut `text` in two, and byte by byte. */
function splits(text: string): number[][] {
  const length = Buffer.byteLength(text, 'latin1');
  return [[], ...Array.from({ length: length - 1 }, (_, i) => [i + 1]), Array.from({ length }, (_, i) => i + 1)];
}

function lines(input: SmtpInput): string[] {
  const read: string[] = [];
  let result: LineResult;
  while ((result = input.readLine()) !== undefined) read.push('tooLong' in result ? tooLong : result.line);
  return read;
}

/** Reads a DATA body from the chunks: the body, whether it ended, and the lines after it. */
function data(parts: readonly Buffer[]): { body: string; ended: boolean; after: string[] } {
  const input = new SmtpInput(maxLine);
  const body: Buffer[] = [];
  const sink = { write: (chunk: Buffer) => body.push(Buffer.from(chunk)) };
  input.startData();
  let ended = false;
  for (const part of parts) {
    input.push(part);
    if (!ended) ended = input.readData(sink);
  }
  return { body: Buffer.concat(body).toString('latin1'), ended, after: ended ? lines(input) : [] };
}

describe('command lines', () => {
  const cases: Array<[string, string[]]> = [
    ['NOOP\r\n', ['NOOP']],
    ['NOOP\r\nRSET\r\n', ['NOOP', 'RSET']],
    ['NOOP\nRSET\n', ['NOOP', 'RSET']],
    ['NOOP\r\nRSE', ['NOOP']],
    ['\r\n', ['']],
    ['MAIL FROM:<ünï@b.test>\r\n', ['MAIL FROM:<ünï@b.test>']],
    [`${'x'.repeat(maxLine)}\r\n`, ['x'.repeat(maxLine)]],
    [`${'x'.repeat(maxLine + 1)}\r\nNOOP\r\n`, [tooLong, 'NOOP']],
    [`${'x'.repeat(5 * maxLine)}\r\nNOOP\r\n`, [tooLong, 'NOOP']],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} reads as ${JSON.stringify(expected)}, however it is split`, () => {
      for (const cuts of splits(text)) {
        const input = new SmtpInput(maxLine);
        const read: string[] = [];
        for (const chunk of chunks(Buffer.from(text).toString('latin1'), cuts)) {
          input.push(chunk);
          read.push(...lines(input));
        }
        assert.deepEqual(read, expected, `cut at ${cuts.join(',')}`);
      }
    });
  }
});

test('an endless line is reported once and costs no memory', () => {
  const input = new SmtpInput(maxLine);
  const read: string[] = [];
  for (let i = 0; i < 1000; i++) {
    input.push(Buffer.from('y'.repeat(100)));
    read.push(...lines(input));
    assert.ok(input.buffered <= maxLine + 100, `${input.buffered} bytes buffered`);
  }
  input.push(Buffer.from('\r\nNOOP\r\n'));
  read.push(...lines(input));
  assert.deepEqual(read, [tooLong, 'NOOP']);
});

test('clear drops what is buffered', () => {
  const input = new SmtpInput(maxLine);
  input.push(Buffer.from('NOOP\r\nRSET\r\n'));
  input.clear();
  assert.deepEqual(lines(input), []);
  assert.equal(input.buffered, 0);
});

describe('DATA bodies', () => {
  const cases: Array<[string, string, string, string[]]> = [
    ['the smallest message', '.\r\n', '', []],
    ['one line', 'hi\r\n.\r\n', 'hi\r\n', []],
    ['a doubled leading dot is unstuffed', '..hidden\r\n...two\r\n.\r\n', '.hidden\r\n..two\r\n', []],
    ['dots inside lines stay', 'a . b\r\na.\r\n.\r\n', 'a . b\r\na.\r\n', []],
    ['what follows the end is commands', 'x\r\n.\r\nQUIT\r\n', 'x\r\n', ['QUIT']],
    ['8-bit and NUL bytes are kept', 'caf\xe9\0\r\n.\r\n', 'caf\xe9\0\r\n', []],
    ['a lone CR is body', 'a\rb\r\n.\r\n', 'a\rb\r\n', []],
    ['LF . LF is body, dot and all', 'a\n.\nMAIL\r\n.\r\n', 'a\n.\nMAIL\r\n', []],
    ['LF . CRLF is body, dot and all', 'a\n.\r\nMAIL\r\n.\r\n', 'a\n.\r\nMAIL\r\n', []],
    ['CRLF . LF is body, dot and all', 'a\r\n.\nMAIL\r\n.\r\n', 'a\r\n.\nMAIL\r\n', []],
    ['a "." line ended by a bare LF at the start is body', '.\nx\r\n.\r\n', '.\nx\r\n', []],
    ['a stuffed dot after a bare LF is unstuffed', 'a\n..b\r\n.\r\n', 'a\n.b\r\n', []],
    ['a dot before a lone CR is a stuffed one', 'a\r\n.\rb\r\n.\r\n', 'a\r\n\rb\r\n', []],
    ['a dot before CR CR LF is a stuffed one', 'a\r\n.\r\r\n.\r\n', 'a\r\n\r\r\n', []],
    ['a bare LF line, then the end', 'a\n\r\n.\r\nNOOP\r\n', 'a\n\r\n', ['NOOP']],
  ];
  for (const [name, text, body, after] of cases) {
    test(`${name}, however it is split`, () => {
      for (const cuts of splits(text)) {
        assert.deepEqual(data(chunks(text, cuts)), { body, ended: true, after }, `cut at ${cuts.join(',')}`);
      }
    });
  }

  test('without the final dot line the body has not ended', () => {
    for (const text of ['x\r\n', 'x\r\n.', 'x\r\n.\r', 'x\r\n..\r\n', 'x\n.\n', 'x\n.\r\n', 'x\r\n.\n'])
      assert.equal(data(chunks(text)).ended, false, text);
  });
});

test('BDAT counts bytes across chunks and leaves the rest for the commands', () => {
  for (const cuts of splits('abc.\r\nNOOP\r\n')) {
    const input = new SmtpInput(maxLine);
    const taken: Buffer[] = [];
    let remaining = 6;
    for (const chunk of chunks('abc.\r\nNOOP\r\n', cuts)) {
      input.push(chunk);
      remaining -= input.readBytes(remaining, { write: (part) => taken.push(Buffer.from(part)) });
    }
    assert.equal(remaining, 0);
    assert.equal(Buffer.concat(taken).toString(), 'abc.\r\n');
    assert.deepEqual(lines(input), ['NOOP']);
  }
});

test('a line says whether it is valid UTF-8, even when a character is split between chunks', () => {
  const cases: Array<[Buffer, boolean]> = [
    [Buffer.from('RCPT TO:<ünï@b.test>\r\n'), true],
    [Buffer.from('RCPT TO:<\xff@b.test>\r\n', 'latin1'), false],
    [Buffer.from('RCPT TO:<\xc3@b.test>\r\n', 'latin1'), false],
  ];
  for (const [bytes, utf8] of cases) {
    for (const cuts of splits(bytes.toString('latin1'))) {
      const input = new SmtpInput(maxLine);
      let result: LineResult;
      for (const chunk of chunks(bytes.toString('latin1'), cuts)) {
        input.push(chunk);
        result = input.readLine();
      }
      assert.deepEqual(result!, { line: bytes.toString('utf8').slice(0, -2), utf8 }, `cut at ${cuts.join(',')}`);
    }
  }
});
