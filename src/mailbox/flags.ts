/**
 * IMAP flags as MH sequences, the way mutt, nmh and Python's `mailbox.MH` keep them: `\Seen` is
 * the absence from `unseen`, `\Flagged` is `flagged`, `\Answered` is `replied`, `\Deleted` is
 * `deleted`, `\Draft` is `draft`, and a keyword is a sequence of its own name.
 */
import { FlagNameError } from './errors.js';
import type { Flag, FlagOperation } from './reader.js';
import { inRanges, rangesOf, subtractRanges, unionRanges, type Ranges, type Sequences } from './sequences.js';

export const unseenSequence = 'unseen';
export const seenFlag = '\\Seen';
export const deletedFlag = '\\Deleted';

/** System flags other than \Seen, and the sequence each lives in. */
const flagSequences = new Map<Flag, string>([
  ['\\Answered', 'replied'],
  ['\\Flagged', 'flagged'],
  [deletedFlag, 'deleted'],
  ['\\Draft', 'draft'],
]);
const systemFlagNames = [seenFlag, ...flagSequences.keys()];
const systemSequenceNames = new Set([unseenSequence, ...flagSequences.values()]);

/**
 * Sequences that are not flags: nmh's `cur` (the current message) and the names nmh reserves for
 * message ranges, which a keyword must not take either.
 */
const reservedSequences = new Set(['cur', 'all', 'first', 'last', 'next', 'prev', 'new']);

/**
 * Keywords MH can hold as sequence names: a line is `name: ranges`, so no colon or white space,
 * and nmh wants a letter first; `$` (IMAP's `$Forwarded`, `$Junk`) is kept, as mutt and Python
 * read it. IMAP atoms exclude `(){ %*"\]` and controls, which this pattern excludes too.
 */
const keywordPattern = /^[A-Za-z$][A-Za-z0-9$_.+-]{0,99}$/;

/** The flag as stored (system flags matched case-insensitively, as IMAP does); throws FlagNameError for one MH cannot hold. */
export function canonicalFlag(flag: string): Flag {
  if (flag.startsWith('\\')) {
    const system = systemFlagNames.find((known) => known.toLowerCase() === flag.toLowerCase());
    if (system === undefined) throw new FlagNameError(flag);
    return system;
  }
  if (!isKeywordSequence(flag)) throw new FlagNameError(flag);
  return flag;
}

/** Whether a sequence of this name is a keyword (and not unseen, flagged, cur, ...). */
function isKeywordSequence(name: string): boolean {
  const lower = name.toLowerCase();
  return keywordPattern.test(name) && !reservedSequences.has(lower) && !systemSequenceNames.has(lower);
}

/**
 * Each message's flags as the sequences say, for the given numbers: system flags first, in a
 * fixed order, then keywords in the order of the sequences file.
 */
export function flagsFromSequences(sequences: Sequences, numbers: readonly number[]): Map<number, Flag[]> {
  const flags = new Map<number, Flag[]>(numbers.map((n) => [n, []]));
  const unseen = sequences.get(unseenSequence) ?? [];
  for (const [n, list] of flags) if (!inRanges(unseen, n)) list.push(seenFlag);
  for (const [flag, sequence] of flagSequences) addMembers(flags, sequences.get(sequence), flag);
  for (const [name, ranges] of sequences) if (isKeywordSequence(name)) addMembers(flags, ranges, name);
  return flags;
}

function addMembers(flags: Map<number, Flag[]>, ranges: Ranges | undefined, flag: Flag): void {
  if (!ranges || ranges.length === 0) return;
  for (const [n, list] of flags) if (inRanges(ranges, n)) list.push(flag);
}

/**
 * Applies an IMAP STORE (FLAGS, +FLAGS, -FLAGS) to the messages `numbers`: one pass over each
 * sequence touched, so flagging thousands of messages costs one rewrite of the file.
 */
export function applyFlags(
  sequences: Sequences,
  numbers: readonly number[],
  operation: FlagOperation,
  flags: readonly Flag[],
): void {
  const wanted = new Set(flags.map(canonicalFlag));
  const targets = rangesOf(numbers);
  // Replacing touches every flag: those not wanted are taken away.
  const keywordsNow = [...sequences.keys()].filter(isKeywordSequence);
  const touched = operation === 'replace' ? new Set([...systemFlagNames, ...keywordsNow, ...wanted]) : wanted;
  for (const flag of touched) {
    const on = operation === 'remove' ? false : wanted.has(flag);
    // \Seen is kept inverted: setting it takes the message out of `unseen`.
    const [sequence, member] = flag === seenFlag ? [unseenSequence, !on] : [flagSequences.get(flag) ?? flag, on];
    const ranges = sequences.get(sequence) ?? [];
    sequences.set(sequence, member ? unionRanges(ranges, targets) : subtractRanges(ranges, targets));
  }
}

/** Flags in the order `flagsFromSequences` gives them: system flags first, then keywords as given. */
export function orderedFlags(flags: readonly Flag[]): Flag[] {
  const canonical = new Set(flags.map(canonicalFlag));
  return [
    ...systemFlagNames.filter((flag) => canonical.has(flag)),
    ...[...canonical].filter((flag) => !flag.startsWith('\\')),
  ];
}

/** Records a new message's flags: it goes into `unseen` unless \Seen is among them. */
export function addNewMessage(sequences: Sequences, number: number, flags: readonly Flag[]): void {
  applyFlags(sequences, [number], 'replace', flags);
}
