/**
 * Folder names as readers give them (`INBOX`, `Sent`, `Lists/Work`) and where they live: INBOX
 * is the mailbox's own MH folder, every other folder an MH sub-folder of it, nested at each `/`.
 * A name can never reach outside its mailbox's tree.
 */
import { componentProblem } from './address.js';
import { FolderNameError } from './errors.js';
import { inboxName } from './reader.js';

/** Longest folder name accepted, in bytes (IMAP clients send a few dozen). */
const maxNameBytes = 1024;

/**
 * The folder's path components below the mailbox's own folder ([] for INBOX, any case), or
 * throws FolderNameError: no empty, `.`/`..` or dot-led components (MH keeps its own files and
 * ours there), no all-digit ones (those are message files), nothing MAIL_DIR's names refuse.
 */
export function folderComponents(folder: string): string[] {
  if (folder.toUpperCase() === inboxName) return [];
  if (Buffer.byteLength(folder) > maxNameBytes) throw new FolderNameError(folder, `longer than ${maxNameBytes} bytes`);
  const components = folder.split('/');
  if (components[0].toUpperCase() === inboxName)
    throw new FolderNameError(folder, 'INBOX has no sub-folders here; name the folder without "INBOX/"');
  for (const component of components) {
    if (component === '') throw new FolderNameError(folder, 'empty name or part (a leading, trailing or doubled "/")');
    if (component.startsWith('.')) throw new FolderNameError(folder, 'a part begins with "."');
    if (/^[0-9]+$/.test(component))
      throw new FolderNameError(folder, 'a part is a number, which MH reads as a message');
    const problem = componentProblem(component, 'a part');
    if (problem) throw new FolderNameError(folder, problem);
  }
  return components;
}

/** The name readers see for a folder at these components: INBOX for none. */
export function folderName(components: readonly string[]): string {
  return components.length === 0 ? inboxName : components.join('/');
}

/** Whether a directory entry inside a folder can be a sub-folder (as opposed to a message, or MH's own files). */
export function isSubFolderName(entry: string): boolean {
  try {
    return folderComponents(entry).length === 1;
  } catch {
    return false;
  }
}
