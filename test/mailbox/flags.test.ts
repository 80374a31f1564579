import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlagNameError } from '../../src/mailbox/errors.js';
import { applyFlags, canonicalFlag, flagsFromSequences } from '../../src/mailbox/flags.js';
import { formatSequences, parseSequences, rangesOf, subtractRanges, unionRanges } from '../../src/mailbox/sequences.js';

test('flags read from sequences: \\Seen is the absence from unseen, the system flags have their MH names, other sequences are keywords', () => {
  const sequences = parseSequences(
    'unseen: 2-3\nflagged: 1 3\nreplied: 2\ndeleted: 3\ndraft: 1\ncur: 2\n$Forwarded: 1-2\nwork: 3\n',
  );
  assert.deepEqual(Object.fromEntries(flagsFromSequences(sequences, [1, 2, 3, 4])), {
    1: ['\\Seen', '\\Flagged', '\\Draft', '$Forwarded'],
    2: ['\\Answered', '$Forwarded'],
    3: ['\\Flagged', '\\Deleted', 'work'],
    4: ['\\Seen'],
  });
});

test('adding, removing and replacing flags rewrites only the sequences involved, as ranges', () => {
  const sequences = parseSequences('unseen: 1-10\nwork: 5\n');
  applyFlags(sequences, [2, 3, 4], 'add', ['\\Seen', '\\Flagged', 'work']);
  assert.equal(formatSequences(sequences), 'unseen: 1 5-10\nwork: 2-5\nflagged: 2-4\n');
  applyFlags(sequences, [3], 'remove', ['\\seen', 'work']);
  assert.equal(formatSequences(sequences), 'unseen: 1 3 5-10\nwork: 2 4-5\nflagged: 2-4\n');
  applyFlags(sequences, [4, 5], 'replace', ['\\Answered']);
  assert.equal(formatSequences(sequences), 'unseen: 1 3-10\nwork: 2\nflagged: 2-3\nreplied: 4-5\n');
});

test('flag names MH cannot hold, and names of sequences with a meaning of their own, are refused', () => {
  for (const bad of [
    '\\Recent',
    '\\Bogus',
    'two words',
    'a:b',
    'unseen',
    'Flagged',
    'cur',
    '9lives',
    '',
    'x'.repeat(101),
    'naïve',
  ]) {
    assert.throws(() => canonicalFlag(bad), FlagNameError, bad);
  }
  assert.equal(canonicalFlag('\\SEEN'), '\\Seen');
  assert.equal(canonicalFlag('$Junk'), '$Junk');
  assert.equal(new FlagNameError('a b').code, 'TMS_FLAG_NAME');
});

test('range union and difference walk both lists once and keep them merged', () => {
  assert.deepEqual(rangesOf([5, 1, 2, 3, 9, 9, 8]), [
    [1, 3],
    [5, 5],
    [8, 9],
  ]);
  assert.deepEqual(
    unionRanges(
      [
        [1, 2],
        [6, 8],
      ],
      [
        [3, 4],
        [10, 10],
      ],
    ),
    [
      [1, 4],
      [6, 8],
      [10, 10],
    ],
  );
  assert.deepEqual(
    subtractRanges(
      [
        [1, 10],
        [20, 30],
      ],
      [
        [2, 3],
        [5, 5],
        [9, 21],
        [30, 40],
      ],
    ),
    [
      [1, 1],
      [4, 4],
      [6, 8],
      [22, 29],
    ],
  );
  // Many ranges against many numbers: linear, not quadratic.
  const alternating = rangesOf(Array.from({ length: 100_000 }, (_, i) => i * 2 + 1));
  assert.equal(subtractRanges(alternating, alternating).length, 0);
});
