/**
 * What a start loads and builds, which is what start-up time is made of: the HTTP modules only
 * once the HTTP API is first asked for, a route's schema compilers (Ajv, fast-json-stringify)
 * only once a route runs, the OpenAPI document's plugin only once it is asked for. Each case
 * runs in a fresh process, whose module cache then tells what was loaded.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { repoRoot, tempDir, tsxLoader } from '../helpers.js';

const library = pathToFileURL(path.join(repoRoot, 'src', 'index.ts')).href;

/** The packages loaded (by their innermost node_modules folder) at each point `script` reports with `loaded(name)`. */
async function packagesLoaded(script: string): Promise<Record<string, string[]>> {
  const program = `
    import { createRequire } from 'node:module';
    import { startTestMailServer } from ${JSON.stringify(library)};
    const mailDir = ${JSON.stringify(await tempDir())};
    const cache = createRequire(process.cwd() + '/').cache;
    const report = {};
    const loaded = (name) => {
      const names = Object.keys(cache).map((file) => /.*node_modules\\/((@[^/]+\\/)?[^/]+)\\//.exec(file)?.[1]);
      report[name] = [...new Set(names.filter(Boolean))].sort();
    };
    ${script}
    process.stdout.write(JSON.stringify(report));
  `;
  const child = spawn(process.execPath, ['--import', tsxLoader, '--input-type=module', '-e', program], {
    cwd: repoRoot,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as Record<string, string[]>;
}

test('a server without the HTTP API loads none of its modules (Fastify, its plugins, the image decoders)', async () => {
  const { started } = await packagesLoaded(`
    const server = await startTestMailServer({ mailDir });
    loaded('started');
    await server.close();
  `);
  for (const name of ['fastify', '@fastify/swagger', '@fastify/websocket', 'pngjs', 'nodemailer'])
    assert.ok(!started.includes(name), `${name} is loaded: ${started.join(', ')}`);
});

test('a server with the HTTP API binds its port at start and loads the API (Fastify, its plugins) on the first request', async () => {
  const { started, requested } = await packagesLoaded(`
    const server = await startTestMailServer({ mailDir, httpPort: 0 });
    loaded('started');
    const response = await fetch(server.httpUrl + '/livez');
    if (response.status !== 200) throw new Error('GET /livez: ' + response.status);
    loaded('requested');
    await server.close();
  `);
  for (const name of ['fastify', '@fastify/websocket', '@fastify/cors']) {
    assert.ok(!started.includes(name), `${name} is loaded at start`);
    assert.ok(requested.includes(name), `${name} is loaded once the first request came`);
  }
});

test('the HTTP API builds its validators and serializers (Ajv, fast-json-stringify) when a route first runs', async () => {
  const { loadedApi, requested } = await packagesLoaded(`
    const server = await startTestMailServer({ mailDir, httpPort: 0 });
    await fetch(server.httpUrl + '/livez');
    loaded('loadedApi');
    const response = await fetch(server.httpUrl + '/api/v1/messages?limit=1');
    if (response.status !== 200) throw new Error('GET /api/v1/messages: ' + response.status);
    loaded('requested');
    await server.close();
  `);
  assert.ok(loadedApi.includes('fastify'), 'the HTTP API is up');
  // Fastify itself loads a part of fast-json-stringify for its error replies: its compiler is the sign.
  for (const name of ['ajv', '@fastify/fast-json-stringify-compiler']) {
    assert.ok(!loadedApi.includes(name), `${name} is loaded with the API`);
    assert.ok(requested.includes(name), `${name} is loaded once /api/v1/messages ran`);
  }
});

test('the OpenAPI document (@fastify/swagger, with its YAML library) is drawn on its first request', async () => {
  const { loadedApi, requested } = await packagesLoaded(`
    const server = await startTestMailServer({ mailDir, httpPort: 0 });
    await fetch(server.httpUrl + '/livez');
    loaded('loadedApi');
    const document = await (await fetch(server.httpUrl + '/api/v1/openapi.json')).json();
    if (!document.paths['/api/v1/messages']) throw new Error('no /api/v1/messages in the document');
    loaded('requested');
    await server.close();
  `);
  for (const name of ['@fastify/swagger', 'yaml']) {
    assert.ok(!loadedApi.includes(name), `${name} is loaded with the API`);
    assert.ok(requested.includes(name), `${name} is loaded once the document was asked for`);
  }
});
