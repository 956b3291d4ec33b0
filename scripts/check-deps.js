#!/usr/bin/env node
// Used by binding.gyp: prints the compiler or linker flags for libvirt and libiscsi from
// pkg-config, or fails the build loudly, naming the Debian packages to install.
'use strict';
const { execFileSync } = require('node:child_process');

const MODULES = ['libvirt', 'libiscsi'];
const HINT =
  'virtkit needs the libvirt and libiscsi development files and pkg-config.\n' +
  'On Debian/Ubuntu install them with:\n\n' +
  '    apt-get install libvirt-dev libiscsi-dev pkg-config\n';

function pkgConfig(args) {
  return execFileSync('pkg-config', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function fail(why) {
  process.stderr.write(`\n*** virtkit: ${why}\n*** ${HINT.split('\n').join('\n*** ')}\n`);
  process.exit(1);
}

const what = process.argv[2];
const flag = { cflags: '--cflags', libs: '--libs' }[what];
if (!flag) fail(`check-deps.js: unknown request '${what}' (want cflags or libs)`);
for (const m of MODULES) {
  try {
    pkgConfig(['--exists', '--print-errors', m]);
  } catch (e) {
    fail(e.code === 'ENOENT' ? 'pkg-config is not installed.' : `pkg-config cannot find '${m}'.`);
  }
}
process.stdout.write(pkgConfig([flag, ...MODULES]) + '\n');
