/** The README's Options table against the option table the parser and --help are made from. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { optionSpecs, type OptionName, type OptionSpec } from '../../src/cli/options.js';
import { repoRoot } from '../helpers.js';

interface Row {
  readonly env: string;
  readonly default: string;
}

/** The Options section's rows by their first cell, e.g. `--smtp-port PORT`. */
function readmeRows(): Map<string, Row> {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = /^## Options\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  assert.ok(section, 'README.md has an "## Options" section');
  const rows = [...section.matchAll(/^\| `([^`]+)` \| `([^`]*)` \|([^|]*)\|/gm)];
  return new Map(rows.map(([, option, env, fallback]) => [option, { env, default: fallback.trim() }]));
}

test("the README's Options table has a row for every option, with its variable and default, and no other", () => {
  const rows = readmeRows();
  const options = (Object.entries(optionSpecs) as [OptionName, OptionSpec][]).filter(([, spec]) => spec.env);
  const label = (name: OptionName, spec: OptionSpec) => `--${name}${spec.value ? ` ${spec.value}` : ''}`;
  const documented = [...rows.keys()].filter((option) => option.startsWith('--'));
  assert.deepEqual(documented.sort(), options.map(([name, spec]) => label(name, spec)).sort());
  for (const [name, spec] of options) {
    const row = rows.get(label(name, spec))!;
    assert.equal(row.env, spec.env, name);
    if (spec.default === undefined) assert.match(row.default, /^(off)?$/, name);
    else assert.ok(row.default.startsWith(`\`${spec.default}\``), `${name}: ${row.default}`);
  }
});
