/**
 * The `.mh_sequences` file: one `name: ranges` line per sequence, as nmh and Python's
 * `mailbox.MH` read and write it (`unseen: 1-3 7 9-12`). Continuation lines (leading
 * white space, which nmh may write for long sequences) are joined to the line before.
 * Sequences stay as ranges so that adding to `unseen: 1-100000` costs no more than to `unseen: 1`.
 */

/** Inclusive [first, last], sorted, merged, non-overlapping. */
export type Ranges = Array<[number, number]>;
export type Sequences = Map<string, Ranges>;

export function parseSequences(text: string): Sequences {
  const sequences: Sequences = new Map();
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (/^[ \t]/.test(line) && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
    else if (line.trim() !== '') lines.push(line);
  }
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    let ranges: Ranges = [];
    for (const spec of line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)) {
      const range = /^(\d+)(?:-(\d+))?$/.exec(spec);
      if (!range) continue;
      const first = Number(range[1]);
      const last = range[2] === undefined ? first : Number(range[2]);
      // Past 2^53 - 1 a number is not exact (and no message can have it): such a range is dropped, not rounded.
      if (!Number.isSafeInteger(last) || first > last) continue;
      ranges = addRange(ranges, first, last);
    }
    sequences.set(line.slice(0, colon).trim(), ranges);
  }
  return sequences;
}

export function formatSequences(sequences: Sequences): string {
  let text = '';
  for (const [name, ranges] of sequences) {
    if (ranges.length === 0) continue;
    // Concatenated, not map().join(): see bench/README.md, "The CPU".
    text += `${name}:`;
    for (const [a, b] of ranges) text += a === b ? ` ${a}` : ` ${a}-${b}`;
    text += '\n';
  }
  return text;
}

/** Adds first..last to ranges, keeping them sorted and merged. Appending past the end is O(1). */
export function addRange(ranges: Ranges, first: number, last: number): Ranges {
  const tail = ranges[ranges.length - 1];
  if (!tail || first > tail[1] + 1) {
    ranges.push([first, last]);
    return ranges;
  }
  if (first >= tail[0]) {
    tail[1] = Math.max(tail[1], last);
    return ranges;
  }
  const merged: Ranges = [];
  for (const range of [...ranges, [first, last] as [number, number]].sort((a, b) => a[0] - b[0])) {
    const previous = merged[merged.length - 1];
    if (previous && range[0] <= previous[1] + 1) previous[1] = Math.max(previous[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

/** The ranges without the given numbers, splitting ranges rather than listing every number. */
export function removeNumbers(ranges: Ranges, gone: readonly number[]): Ranges {
  return subtractRanges(ranges, rangesOf(gone));
}

/** Numbers (any order, repeats allowed) as sorted, merged ranges. */
export function rangesOf(numbers: readonly number[]): Ranges {
  const sorted = [...numbers].sort((a, b) => a - b);
  const ranges: Ranges = [];
  for (const n of sorted) {
    const tail = ranges[ranges.length - 1];
    if (tail && n <= tail[1] + 1) tail[1] = Math.max(tail[1], n);
    else ranges.push([n, n]);
  }
  return ranges;
}

/** Everything in `a` or `b`: one merge of the two sorted lists. */
export function unionRanges(a: Ranges, b: Ranges): Ranges {
  const merged: Ranges = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i][0] <= b[j][0]) ? a[i++] : b[j++];
    const tail = merged[merged.length - 1];
    if (tail && next[0] <= tail[1] + 1) tail[1] = Math.max(tail[1], next[1]);
    else merged.push([next[0], next[1]]);
  }
  return merged;
}

/** What `a` holds that `b` does not: one walk over both sorted lists. */
export function subtractRanges(a: Ranges, b: Ranges): Ranges {
  const kept: Ranges = [];
  let j = 0;
  for (const [first, last] of a) {
    let start = first;
    while (j < b.length && b[j][1] < start) j++;
    for (let k = j; k < b.length && b[k][0] <= last; k++) {
      if (b[k][0] > start) kept.push([start, b[k][0] - 1]);
      start = Math.max(start, b[k][1] + 1);
    }
    if (start <= last) kept.push([start, last]);
  }
  return kept;
}

/** Whether `n` is in the ranges (binary search). */
export function inRanges(ranges: Ranges, n: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = ranges[middle];
    if (n < first) high = middle - 1;
    else if (n > last) low = middle + 1;
    else return true;
  }
  return false;
}
