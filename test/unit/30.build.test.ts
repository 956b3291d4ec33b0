// The build takes its flags from pkg-config and, without libvirt or libiscsi, fails loudly
// naming the Debian packages to install (binding.gyp runs scripts/check-deps.js).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers';

const script = path.join(repoRoot, 'scripts', 'check-deps.js');

t.test('flags come from pkg-config for libvirt and libiscsi', async (t) => {
  const libs = spawnSync(process.execPath, [script, 'libs'], { encoding: 'utf8' });
  t.equal(libs.status, 0);
  t.match(libs.stdout, /-lvirt/);
  t.match(libs.stdout, /-liscsi/);
  const gyp = fs.readFileSync(path.join(repoRoot, 'binding.gyp'), 'utf8');
  t.match(gyp, /check-deps\.js cflags/);
  t.match(gyp, /check-deps\.js libs/);
  t.match(gyp, /NAPI_VERSION=8/);
});

t.test('missing development files fail the build with the packages to install', async (t) => {
  const r = spawnSync(process.execPath, [script, 'cflags'], {
    encoding: 'utf8',
    env: { ...process.env, PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' },
  });
  t.equal(r.status, 1);
  t.equal(r.stdout, '', 'no flags printed');
  t.match(r.stderr, /pkg-config cannot find 'libvirt'/);
  t.match(r.stderr, /apt-get install libvirt-dev libiscsi-dev pkg-config/);
});

t.test('no pkg-config at all is named too', async (t) => {
  const r = spawnSync(process.execPath, [script, 'libs'], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
  t.equal(r.status, 1);
  t.match(r.stderr, /pkg-config is not installed/);
});
