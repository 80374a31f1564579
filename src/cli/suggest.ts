/** "Did you mean ...?" for mistyped options, shared by the server's command line and sendmail's. */

/** `unknown option --smtp-prot; did you mean --smtp-port?` for `word` as typed (any `=value` dropped). */
export function unknownOptionText(word: string, longOptions: readonly string[]): string {
  const option = word.split('=')[0];
  const nearest = closest(option.replace(/^-+/, ''), longOptions);
  return `unknown option ${option}${nearest ? `; did you mean --${nearest}?` : ''}`;
}

/**
 * The candidate nearest to `word` (case aside), if near enough to be a typo of it: at most one
 * edit per three characters, so `smtp-prot` finds `smtp-port` and `frobnicate` finds nothing.
 */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const typed = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(typed.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Edits (insert, delete, replace, or swap two neighbours: the commonest typo) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // rows[i][j]: the distance between the first i characters of a and the first j of b.
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const replace = rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, replace);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
    }
  }
  return rows[a.length][b.length];
}
