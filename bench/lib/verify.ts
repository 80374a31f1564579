/**
 * After each run against our server: every message file must be in MAIL_DIR/<domain>/<local>/1..N,
 * nothing else, each with a plausible size. Throws with the first few problems otherwise.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

export interface ExpectedMail {
  readonly domain: string;
  /** Local part -> number of messages expected in that mailbox. */
  readonly mailboxes: ReadonlyMap<string, number>;
  /** Size bounds for every message file, in bytes. */
  readonly minBytes: number;
  readonly maxBytes: number;
}

export interface Verified {
  readonly files: number;
  readonly bytes: number;
}

export class VerificationError extends Error {}

const visible = (dir: string): string[] => readdirSync(dir).filter((name) => !name.startsWith('.'));

export function verifyMailDir(mailDir: string, expected: ExpectedMail): Verified {
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < 8) problems.push(text);
  };
  let files = 0;
  let bytes = 0;

  const domains = visible(mailDir);
  if (domains.length !== 1 || domains[0] !== expected.domain)
    problem(`MAIL_DIR holds ${JSON.stringify(domains)}, expected only "${expected.domain}"`);
  const domainDir = path.join(mailDir, expected.domain);
  let locals: string[] = [];
  try {
    locals = visible(domainDir);
  } catch (error) {
    problem(`cannot read ${domainDir}: ${(error as Error).message}`);
  }
  const unexpected = locals.filter((local) => !expected.mailboxes.has(local));
  if (unexpected.length > 0)
    problem(`unexpected mailboxes: ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', ...' : ''}`);

  for (const [local, want] of expected.mailboxes) {
    const folder = path.join(domainDir, local);
    let names: string[];
    try {
      names = visible(folder);
    } catch {
      problem(`mailbox ${local}@${expected.domain} is missing (${want} messages expected)`);
      continue;
    }
    const numbers = new Set<number>();
    for (const name of names) {
      if (!/^[1-9]\d*$/.test(name)) problem(`${local}: stray entry "${name}"`);
      else numbers.add(Number(name));
    }
    const missing: number[] = [];
    for (let n = 1; n <= want; n++) if (!numbers.has(n)) missing.push(n);
    const extra = [...numbers].filter((n) => n > want);
    if (missing.length > 0)
      problem(
        `${local}: ${missing.length} of ${want} message files missing (first: ${missing.slice(0, 5).join(', ')})`,
      );
    if (extra.length > 0)
      problem(`${local}: ${extra.length} files beyond ${want} (first: ${extra.slice(0, 5).join(', ')})`);
    for (const n of numbers) {
      const file = path.join(folder, String(n));
      const stat = statSync(file);
      if (!stat.isFile()) problem(`${file} is not a regular file`);
      else if (stat.size < expected.minBytes || stat.size > expected.maxBytes) {
        problem(`${file} is ${stat.size} bytes, expected ${expected.minBytes}..${expected.maxBytes}`);
      }
      files++;
      bytes += stat.size;
    }
  }
  if (problems.length > 0)
    throw new VerificationError(`mailbox check failed in ${mailDir}:\n  ${problems.join('\n  ')}`);
  return { files, bytes };
}
