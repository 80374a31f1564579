/** Small statistics and formatting helpers. */

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nearest-rank percentile, p in (0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function rate(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')} msg/s`;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function ms(milliseconds: number): string {
  return milliseconds >= 100 ? `${Math.round(milliseconds)} ms` : `${milliseconds.toFixed(2)} ms`;
}

export function micros(microseconds: number): string {
  return `${Math.round(microseconds)} µs`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}
