/**
 * Run first by `npm test`: are the system tools the tests drive installed? If not, one line names
 * each missing one with its Debian package, instead of tests failing later on `spawn swaks ENOENT`.
 * Cheap: a look along PATH and two short interpreter runs, side by side.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

interface Requirement {
  /** What the tests need, as the message names it. */
  readonly what: string;
  /** The Debian packages that provide it. */
  readonly packages: readonly string[];
  readonly present: () => Promise<boolean>;
}

const requirements: readonly Requirement[] = [
  { what: 'swaks', packages: ['swaks'], present: () => Promise.resolve(onPath('swaks')) },
  {
    what: "swaks's TLS (Perl's IO::Socket::SSL)",
    packages: ['libio-socket-ssl-perl', 'libnet-ssleay-perl'],
    present: () => succeeds('perl', ['-MIO::Socket::SSL', '-MNet::SSLeay', '-e', '1']),
  },
  { what: 'python3', packages: ['python3'], present: () => Promise.resolve(onPath('python3')) },
  {
    what: 'Django for python3',
    packages: ['python3-django'],
    present: async () => (await pythonWithDjango()) !== undefined,
  },
];

/** A Python that has Django: $PYTHON, python3 on PATH, or Debian's /usr/bin/python3 (package python3-django). */
export async function pythonWithDjango(): Promise<string | undefined> {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((python) => python);
  // find_spec looks Django up without importing it.
  const probe = 'import importlib.util, sys; sys.exit(importlib.util.find_spec("django") is None)';
  for (const python of candidates as string[]) if (await succeeds(python, ['-c', probe])) return python;
  return undefined;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((folder) => {
    try {
      accessSync(path.join(folder, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function succeeds(command: string, args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

async function main(): Promise<void> {
  const found = await Promise.all(requirements.map((requirement) => requirement.present()));
  const missing = requirements.filter((_, index) => !found[index]);
  if (missing.length === 0) return;
  const names = missing.map((requirement) => requirement.what).join(', ');
  const packages = missing.flatMap((requirement) => requirement.packages).join(' ');
  process.stderr.write(`npm test needs ${names}: apt-get install ${packages} (Debian, Ubuntu)\n`);
  process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
