/** The logger writes one line per message, with control characters escaped: safe on a terminal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { memorySession } from './memory.js';

test('control characters in a message are escaped, so a log line is one line and never drives the terminal', () => {
  const lines: string[] = [];
  const log = createLogger('debug', (line) => lines.push(line));
  log.info('a\x1b[2Jb\r\nc\td\0e\x7ff\u0085g ünï');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} INFO a\\x1b\[2Jb\\r\\nc\\td\\x00e\\x7ff\\x85g ünï\n$/);
});

test("the DEBUG conversation log shows a client's control characters escaped", async () => {
  const { client, log, session } = await memorySession();
  await client.command('EHLO evil\x1b[31m\rX-Injected: x');
  const conversation = log.join('');
  assert.match(conversation, /C: EHLO evil\\x1b\[31m\\rX-Injected: x\n/);
  assert.doesNotMatch(conversation.replace(/\n/g, ''), /[\x00-\x1f\x7f]/);
  session.destroy();
});
