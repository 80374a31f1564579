/**
 * What one MH folder holds on disk, read without taking its lock (readers of MH never do): the
 * message numbers, the sub-folders, and the small files that carry its state. Symlinks are not
 * followed: a message or sub-folder that is a symlink is not one of ours.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSubFolderName } from './folder-name.js';

export const sequencesFileName = '.mh_sequences';
export const highWaterFileName = '.mh_highwater';
/** Our own dot-file, which MH readers ignore: the folder's IMAP UIDVALIDITY. */
export const uidValidityFileName = '.mh_uidvalidity';

export interface FolderListing {
  /** Message files (regular files named by a number MH and JavaScript can both count), ascending. */
  readonly numbers: number[];
  /** Directory entries that are folders: sub-directories with a valid folder name. */
  readonly subFolders: string[];
  /** `.mh_sequences` as text ('' when missing). */
  readonly sequences: string;
  /** `.mh_highwater`; undefined when missing or unreadable. */
  readonly highWater: number | undefined;
  /** `.mh_uidvalidity`; undefined when missing or unreadable. */
  readonly uidValidity: number | undefined;
}

/** A message file name: a positive decimal without leading zeros, below 2^53 (bigger ones cannot be counted on). */
export function messageNumber(name: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(name)) return undefined;
  const number = Number(name);
  return Number.isSafeInteger(number) ? number : undefined;
}

/** The folder at `dir` as it is now; undefined when it is gone (or is not a real directory). */
export function listFolder(dir: string): FolderListing | undefined {
  let entries: fs.Dirent[];
  try {
    if (!fs.lstatSync(dir).isDirectory()) return undefined;
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
  const numbers: number[] = [];
  const subFolders: string[] = [];
  for (const entry of entries) {
    if (entry.isFile()) {
      const number = messageNumber(entry.name);
      if (number !== undefined) numbers.push(number);
    } else if (entry.isDirectory() && isSubFolderName(entry.name)) {
      subFolders.push(entry.name);
    }
  }
  numbers.sort((a, b) => a - b);
  return {
    numbers,
    subFolders: subFolders.sort(),
    sequences: readSmallFile(path.join(dir, sequencesFileName)) ?? '',
    highWater: readNumber(path.join(dir, highWaterFileName)),
    uidValidity: readNumber(path.join(dir, uidValidityFileName)),
  };
}

/** A small dot-file's text; undefined when missing, or when it is not a regular file (never followed, never waited on). */
export function readSmallFile(file: string): string | undefined {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      return fs.fstatSync(fd).isFile() ? fs.readFileSync(fd, 'utf8') : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

function readNumber(file: string): number | undefined {
  const text = readSmallFile(file);
  const value = text === undefined ? Number.NaN : Number.parseInt(text, 10);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** A file's or directory's own status (a link is not followed), with nanoseconds; undefined when it is gone. */
export function lstatIfThere(file: string): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(file, { bigint: true });
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

/** Errors that mean "not there (as something we would read)". */
export function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
