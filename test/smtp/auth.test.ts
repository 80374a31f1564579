/** The SASL mechanisms and strict base64, table-driven. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBase64, mechanisms, startAuth, type AuthStep } from '../../src/smtp/auth.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

test('PLAIN, LOGIN and CRAM-MD5 are the mechanisms; others are unknown', () => {
  assert.deepEqual(mechanisms, ['PLAIN', 'LOGIN', 'CRAM-MD5']);
  for (const mechanism of mechanisms) assert.ok(startAuth(mechanism, 'mx.test'));
  assert.equal(startAuth('XOAUTH2', 'mx.test'), undefined);
});

describe('exchanges', () => {
  const cases: Array<[string, string[], AuthStep[]]> = [
    ['PLAIN', ['\0ann\0secret'], [{ user: 'ann' }]],
    ['PLAIN', ['admin\0ann\0secret'], [{ user: 'ann' }]],
    ['PLAIN', ['\0\0secret'], [{ malformed: true }]],
    ['PLAIN', ['ann secret'], [{ malformed: true }]],
    ['LOGIN', ['ann', 'secret'], [{ challenge: b64('Password:') }, { user: 'ann' }]],
    ['CRAM-MD5', ['ann 0123456789abcdef0123456789abcdef'], [{ user: 'ann' }]],
    ['CRAM-MD5', ['ann not-a-digest'], [{ malformed: true }]],
  ];
  for (const [mechanism, responses, steps] of cases) {
    test(`${mechanism} ${JSON.stringify(responses)} -> ${JSON.stringify(steps)}`, () => {
      const exchange = startAuth(mechanism, 'mx.test')!;
      assert.deepEqual(
        responses.map((response) => exchange.respond(response)),
        steps,
      );
    });
  }
});

test('first challenges: PLAIN empty, LOGIN asks for the user, CRAM-MD5 sends a fresh server-first challenge', () => {
  assert.equal(startAuth('PLAIN', 'mx.test')!.firstChallenge, '');
  assert.equal(startAuth('LOGIN', 'mx.test')!.firstChallenge, b64('Username:'));
  const cram = startAuth('CRAM-MD5', 'mx.test')!;
  assert.equal(cram.serverFirst, true);
  assert.match(Buffer.from(cram.firstChallenge, 'base64').toString(), /^<[0-9a-f]{16}\.\d+@mx\.test>$/);
  assert.notEqual(startAuth('CRAM-MD5', 'mx.test')!.firstChallenge, cram.firstChallenge);
});

describe('decodeBase64', () => {
  const cases: Array<[string, string | undefined]> = [
    [b64('ann'), 'ann'],
    ['=', ''],
    ['', ''],
    [b64('\0ann\0pw'), '\0ann\0pw'],
    ['YW5u', 'ann'],
    ['YW5', undefined],
    ['YW5u!', undefined],
    ['YW 5u', undefined],
    ['*', undefined],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} -> ${JSON.stringify(expected)}`, () => assert.equal(decodeBase64(text), expected));
  }
});
