/** The MAIL FROM / RCPT TO argument parsers, table-driven. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMail, parsePath, parseRcpt } from '../../src/smtp/path.js';
import { badSyntax, reply } from '../../src/smtp/replies.js';

describe('parsePath', () => {
  const cases: Array<[string, { address: string; rest: string } | undefined]> = [
    ['<ann@example.test>', { address: 'ann@example.test', rest: '' }],
    ['  <ann@example.test> SIZE=10', { address: 'ann@example.test', rest: ' SIZE=10' }],
    ['<>', { address: '', rest: '' }],
    ['<@relay.test,@other.test:ann@example.test>', { address: 'ann@example.test', rest: '' }],
    ['<"john doe"@example.test>', { address: 'john doe@example.test', rest: '' }],
    ['<"a>b"@example.test>', { address: 'a>b@example.test', rest: '' }],
    ['<"q\\"uote"@example.test>', { address: 'q"uote@example.test', rest: '' }],
    ['ann@example.test SIZE=1', { address: 'ann@example.test', rest: 'SIZE=1' }],
    ['<ünï@example.test>', { address: 'ünï@example.test', rest: '' }],
    ['<ann@example.test', undefined],
    ['<@relay.test ann@example.test>', undefined],
    ['', undefined],
  ];
  for (const [argument, expected] of cases) {
    test(`${JSON.stringify(argument)} -> ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parsePath(argument), expected);
    });
  }
});

describe('parseMail', () => {
  const cases: Array<[string, ReturnType<typeof parseMail>]> = [
    ['FROM:<ann@example.test>', 'ann@example.test'],
    ['from: <ann@example.test> SIZE=100 BODY=8bitmime SMTPUTF8 AUTH=<>', 'ann@example.test'],
    ['FROM:<> BODY=7BIT', ''],
    ['TO:<ann@example.test>', badSyntax],
    ['FROM', badSyntax],
    ['FROM:<ann@example.test', reply.badAddress('MAIL FROM:<address>')],
    ['FROM:<a@b.test> SIZE=', reply.syntax('SIZE=<number>')],
    ['FROM:<a@b.test> SIZE=-1', reply.syntax('SIZE=<number>')],
    ['FROM:<a@b.test> SIZE=1001', reply.tooBig(1000)],
    ['FROM:<a@b.test> SIZE=1000', 'a@b.test'],
    ['FROM:<a@b.test> BODY', reply.unknownParameter('BODY')],
    ['FROM:<a@b.test> ret=hdrs', reply.unknownParameter('RET')],
  ];
  for (const [argument, expected] of cases) {
    test(`MAIL ${argument}`, () => assert.deepEqual(parseMail(argument, 1000), expected));
  }
});

describe('parseRcpt', () => {
  const cases: Array<[string, ReturnType<typeof parseRcpt>]> = [
    ['TO:<bob@example.test>', 'bob@example.test'],
    ['to:bob@example.test', 'bob@example.test'],
    ['FROM:<bob@example.test>', badSyntax],
    ['TO:<bob@example.test', reply.badAddress('RCPT TO:<address>')],
    ['TO:<bob@example.test> NOTIFY=NEVER', reply.unknownParameter('NOTIFY')],
  ];
  for (const [argument, expected] of cases) {
    test(`RCPT ${argument}`, () => assert.deepEqual(parseRcpt(argument), expected));
  }
});
