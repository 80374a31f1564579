/** The shapes every bench case shares: a case gets a context and returns rows for the table. */
import type { Tools } from './servers.js';

export interface BenchContext {
  /** Measured runs per figure (median reported); `--runs`, default 3. */
  readonly runs: number;
  /** Repository root; the built CLI is `cliPath`. */
  readonly repoRoot: string;
  readonly cliPath: string;
  /** `--against`: another build's CLI, measured beside ours in each run of the throughput cases. */
  readonly againstCliPath: string | undefined;
  readonly tools: Tools;
  /**
   * A temp folder removed when the bench ends; cases make their MAIL_DIRs inside it and leave
   * them there, so deleting thousands of files (slow on some disks) never overlaps a measurement.
   */
  readonly tempRoot: string;
  /** One progress line on standard error (the table goes to standard output). */
  progress(line: string): void;
}

/** One line of the final table. Columns a case has no value for stay empty. */
export interface ResultRow {
  readonly name: string;
  readonly sink?: string;
  readonly ours: string;
  /** Ours as a share of smtp-sink, e.g. "11.2%". */
  readonly share?: string;
  readonly target: string;
  /** undefined: no target, reported only. */
  readonly met?: boolean;
}

export interface BenchCase {
  /** Short id for `--only`, e.g. "a" or "startup". */
  readonly id: string;
  /** What the progress lines call it. */
  readonly title: string;
  /** Its figures depend on how fast files can be created under tempRoot, so the bench checks that first. */
  readonly diskBound?: boolean;
  run(ctx: BenchContext): Promise<ResultRow[]>;
}
