// The package loads both ways, with everything public on the root.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { repoRoot } from '../helpers';

const expected = [
  'connect', 'Connection', 'LibvirtError', 'ErrorNumber', 'ErrorDomain', 'ConnectFlags', 'libvirtVersion', 'parseCapabilitiesXml', 'iscsi', 'IscsiError',
  'provisionIscsiPool', 'provisionRbdPool', 'provisionMultipathPool', 'defineGuest', 'teardownPool', 'teardownGuest', 'ProvisionError',
];
const provisionTypes = ['function', 'function', 'function', 'function', 'function', 'function', 'function'];

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' });
}

t.test('require("virtkit")', async (t) => {
  const out = run(['-e', `const v = require('virtkit'); console.log(JSON.stringify(${JSON.stringify(expected)}.map((n) => typeof v[n])))`]);
  t.same(JSON.parse(out), ['function', 'function', 'function', 'object', 'object', 'object', 'function', 'function', 'object', 'function', ...provisionTypes]);
});

t.test('import from "virtkit"', async (t) => {
  const out = run([
    '--input-type=module',
    '-e',
    `import * as v from 'virtkit'; import def, { connect, LibvirtError } from 'virtkit';
     const c = await connect('test:///default'); const type = await c.type(); await c.close();
     const e = await connect('::bad').catch((e) => e);
     console.log(JSON.stringify({ names: ${JSON.stringify(expected)}.map((n) => typeof v[n]), type, typed: e instanceof LibvirtError, same: def.connect === connect }))`,
  ]);
  t.same(JSON.parse(out), {
    names: ['function', 'function', 'function', 'object', 'object', 'object', 'function', 'function', 'object', 'function', ...provisionTypes],
    type: 'TEST',
    typed: true,
    same: true,
  });
});
