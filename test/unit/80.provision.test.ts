// The provisioning helpers' pure parts: the pool, secret-less and guest definitions they
// build (checked against libvirt's RNG schemas), Ceph keys, the stale-session detection and
// the iscsiadm logout arguments.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  buildDomainXml, buildPoolXml, cephKeyBytes, findIscsiadm, IscsiError, GUEST_METADATA_NS, guestDefinition, iscsiadmLogoutArgs, iscsiPoolDefinition, isLocalUri,
  isStaleSessionError, LibvirtError, logoutStaleSession, multipathPoolDefinition, parsePoolXml, rbdPoolDefinition,
} from 'virtkit';
import { iscsiReason, iscsiWords, isUnreachableCode, poolDefineReason, type IscsiStep } from '../../lib/provision/errors';
import { canValidateXml, validateXml } from '../helpers';

const iscsiOpts = {
  name: 'gw1', portal: '10.0.0.5:3261', target: 'iqn.2003-01.org.linux-iscsi.gw1:rbd', initiatorIqn: 'iqn.2026-11.org.example:host1',
  chap: { username: 'gw1user', password: 'not-in-the-xml-1' },
};
/** virt-xml-validate's verdict: '' when valid, its complaint otherwise. */
const invalid = (xml: string, name: string): string => {
  const r = validateXml(xml, name);
  return r.status === 0 ? '' : `status ${r.status}: ${r.stderr}`;
};
const noValidator = canValidateXml ? false : 'virt-xml-validate or xmllint missing (libvirt-clients, libxml2-utils)';

t.test('iscsi-direct and iscsi pool definitions', async (t) => {
  const direct = iscsiPoolDefinition({ ...iscsiOpts, type: 'iscsi-direct' });
  const xml = buildPoolXml(direct);
  t.equal(xml, `<pool type="iscsi-direct">
  <name>gw1</name>
  <source>
    <host name="10.0.0.5" port="3261"/>
    <device path="iqn.2003-01.org.linux-iscsi.gw1:rbd"/>
    <initiator>
      <iqn name="iqn.2026-11.org.example:host1"/>
    </initiator>
    <auth type="chap" username="gw1user">
      <secret usage="gw1-chap"/>
    </auth>
  </source>
</pool>
`);
  t.notMatch(xml, 'not-in-the-xml-1', 'the password is not in the pool');
  if (!noValidator) t.equal(invalid(xml, 'storagepool'), '', `valid against libvirt's storagepool schema`);
  const kernel = iscsiPoolDefinition({ ...iscsiOpts, type: 'iscsi', secretUsage: 'gw1-secret' });
  t.equal(kernel.target?.path, '/dev/disk/by-path', 'the default target path');
  t.same(kernel.source.auth?.secret, { usage: 'gw1-secret' });
  if (!noValidator) t.equal(invalid(buildPoolXml(kernel), 'storagepool'), '', `valid against libvirt's storagepool schema`);
  t.equal(iscsiPoolDefinition({ ...iscsiOpts, type: 'iscsi', targetPath: '/dev/disk/by-id' }).target?.path, '/dev/disk/by-id');
  const noChap = iscsiPoolDefinition({ ...iscsiOpts, chap: undefined, type: 'iscsi-direct', portal: 'gw1.example' });
  t.equal(noChap.source.auth, undefined);
  t.same(noChap.source.hosts, [{ name: 'gw1.example', port: 3260 }]);
});

t.test('iscsi options: TypeErrors (and RangeErrors) in plain words, never quoting the password', async (t) => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['type', { type: 'nfs' }],
    ['name', { name: '' }],
    ['name with a slash', { name: 'a/b' }],
    ['portal', { portal: 'a b' }],
    ['iscsi:// portal', { portal: 'iscsi://10.0.0.5/iqn.x' }],
    ['target', { target: 7 }],
    ['initiator', { initiatorIqn: undefined }],
    ['chap', { chap: { username: 'u' } }],
    ['autostart', { autostart: 'yes' }],
    ['targetPath on iscsi-direct', { targetPath: '/dev/disk/by-path' }],
    ['relative targetPath', { type: 'iscsi', targetPath: 'dev' }],
    ['timeoutMs', { timeoutMs: '5' }],
  ];
  for (const [what, change] of bad) {
    const err = t.throws(() => iscsiPoolDefinition({ ...iscsiOpts, type: 'iscsi-direct', ...change } as never), TypeError, what) as Error;
    t.notMatch(err.message, 'not-in-the-xml-1');
  }
  t.throws(() => iscsiPoolDefinition({ ...iscsiOpts, type: 'iscsi-direct', portal: 'h:70000' }), RangeError);
  t.throws(() => iscsiPoolDefinition(null as never), TypeError);
});

t.test('rbd pool definition: Ceph pool, monitors as hosts (6789 by default), ceph auth by secret usage, config options', async (t) => {
  const key = randomBytes(28).toString('base64');
  const def = rbdPoolDefinition({
    name: 'ceph1', monitors: ['10.0.0.1', '10.0.0.2:3300', { host: '::1', port: 6790 }], pool: 'vms', cephUser: 'client.libvirt', cephKey: key,
    config: { client_mount_timeout: '10' },
  });
  const xml = buildPoolXml(def);
  t.equal(
    xml,
    `<pool type="rbd" xmlns:rbd="http://libvirt.org/schemas/storagepool/rbd/1.0">
  <name>ceph1</name>
  <source>
    <host name="10.0.0.1" port="6789"/>
    <host name="10.0.0.2" port="3300"/>
    <host name="::1" port="6790"/>
    <name>vms</name>
    <auth type="ceph" username="libvirt">
      <secret usage="ceph1-ceph"/>
    </auth>
  </source>
  <rbd:config_opts>
    <rbd:option name="client_mount_timeout" value="10"/>
  </rbd:config_opts>
</pool>
`,
    'client. is dropped from the user',
  );
  t.notMatch(xml, key);
  if (!noValidator) t.equal(invalid(xml, 'storagepool'), '', `valid against libvirt's storagepool schema`);
  const back = parsePoolXml(xml);
  t.same(back.source?.auth, { type: 'ceph', username: 'libvirt', secret: { usage: 'ceph1-ceph' } });
  for (const [what, change] of [
    ['monitors', { monitors: [] }],
    ['monitor', { monitors: ['a b'] }],
    ['pool', { pool: '' }],
    ['user', { cephUser: 'client.' }],
    ['config', { config: { a: 1 } }],
    ['preflight', { preflight: 'no' }],
  ] as const) t.throws(() => rbdPoolDefinition({ ...{ name: 'c', monitors: ['h'], pool: 'p', cephUser: 'u', cephKey: key }, ...change } as never), TypeError, what);
});

t.test('Ceph keys: base64 decoded to the bytes libvirt stores; anything else a TypeError that does not quote it', async (t) => {
  const raw = randomBytes(28);
  t.same(cephKeyBytes(raw.toString('base64')), raw);
  t.same(cephKeyBytes(`${raw.toString('base64')}\n`), raw, 'a trailing newline (from a file) is fine');
  for (const bad of ['not base64!', 'QUJD', 'QUJDRA=', '', 42]) {
    const err = t.throws(() => cephKeyBytes(bad), TypeError, String(bad)) as Error;
    if (typeof bad === 'string' && bad !== '') t.notMatch(err.message, bad);
  }
});

t.test('mpath pool definition', async (t) => {
  const xml = buildPoolXml(multipathPoolDefinition({ name: 'mp' }));
  t.equal(xml, '<pool type="mpath">\n  <name>mp</name>\n  <target>\n    <path>/dev/mapper</path>\n  </target>\n</pool>\n');
  if (!noValidator) t.equal(invalid(xml, 'storagepool'), '', `valid against libvirt's storagepool schema`);
  t.throws(() => multipathPoolDefinition({ name: 'mp', targetPath: 'x' }), TypeError);
});

t.test('guest definition: volume and path disks, a CD-ROM, a network, the defineGuest marker, QEMU\'s default CPU', async (t) => {
  const def = guestDefinition({
    name: 'web1', memoryMiB: 128, vcpus: 2, firmware: 'uefi', disks: [{ pool: 'gw1', volume: 'unit:0:0:1' }, { path: '/var/lib/libvirt/images/b.img' }],
    cdrom: { path: '/srv/iso/debian.iso' }, network: 'default',
  });
  const xml = buildDomainXml(def);
  t.match(xml, /<source pool="gw1" volume="unit:0:0:1"\/>/);
  t.match(xml, /<target dev="vda" bus="virtio"\/>/);
  t.match(xml, /<disk type="file" device="disk">[\s\S]*?<target dev="vdb"/);
  t.match(xml, /<disk type="file" device="cdrom">[\s\S]*?<readonly\/>/);
  t.match(xml, /<interface type="network">\s*<source network="default"\/>\s*<model type="virtio"\/>\s*<\/interface>/);
  t.match(xml, /<os firmware="efi">/);
  t.match(xml, new RegExp(`<metadata>\\s*<virtkit:guest xmlns:virtkit="${GUEST_METADATA_NS}"/>\\s*</metadata>`));
  t.notMatch(xml, /<cpu/, 'no <cpu>: QEMU\'s default model');
  t.match(xml, /<memory unit="KiB">131072<\/memory>/);
  if (!noValidator) t.equal(invalid(xml, 'domain'), '', `valid against libvirt's domain schema`);
  t.match(buildDomainXml(guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [], cpu: 'host-passthrough' })), /<cpu mode="host-passthrough"/);
  t.match(buildDomainXml(guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [], cdrom: '/srv/iso/a.iso' })), /<disk type="file" device="cdrom">\s*<driver name="qemu" type="raw"\/>\s*<source file="\/srv\/iso\/a.iso"\/>/, 'a CD-ROM by path');
  for (const [what, change] of [
    ['memory', { memoryMiB: '64' }],
    ['vcpus', { vcpus: 1.5 }],
    ['relative disk path', { disks: [{ path: 'b.img' }] }],
    ['network', { network: { bridge: 'br0', mode: 'vepa' } }],
    ['firmware', { firmware: 'efi' }],
    ['disks', { disks: {} }],
    ['disk', { disks: [{ pool: 'p' }] }],
    ['disk both', { disks: [{ pool: 'p', volume: 'v', path: '/x' }] }],
    ['cpu', { cpu: 'host' }],
    ['start', { start: 1 }],
  ] as const) t.throws(() => guestDefinition({ ...{ name: 'g', memoryMiB: 64, vcpus: 1, disks: [] }, ...change } as never), TypeError, what);
  for (const change of [{ memoryMiB: 0 }, { memoryMiB: 2 ** 33 }, { vcpus: 0 }, { vcpus: 4097 }])
    t.throws(() => guestDefinition({ name: 'g', memoryMiB: 64, vcpus: 1, disks: [], ...change }), RangeError, JSON.stringify(change));
  t.match(
    buildDomainXml(guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [], network: { direct: 'eth0', mode: 'bridge', mac: '52:54:00:AA:BB:CC', model: 'e1000e' } })),
    /<interface type="direct">\s*<mac address="52:54:00:aa:bb:cc"\/>\s*<source dev="eth0" mode="bridge"\/>\s*<model type="e1000e"\/>/,
    'a checked interface: direct, its mode, the MAC, the model',
  );
});

t.test('guest definition: a volume of an rbd pool becomes a network disk (libvirt 9.0 refuses it as a volume disk)', async (t) => {
  const key = randomBytes(16).toString('base64');
  const ceph1 = rbdPoolDefinition({ name: 'ceph1', monitors: ['mon1.example', 'mon2.example:3300'], pool: 'rbd', cephUser: 'client.libvirt', cephKey: key });
  const def = guestDefinition(
    {
      name: 'web1', memoryMiB: 128, vcpus: 1,
      disks: [{ pool: 'ceph1', volume: 'web1-disk' }, { pool: 'gw1', volume: 'unit:0:0:1' }],
      cdrom: { pool: 'ceph1', volume: 'debian.iso' },
    },
    { ceph1, gw1: iscsiPoolDefinition({ ...iscsiOpts, type: 'iscsi-direct' }) },
  );
  const xml = buildDomainXml(def);
  t.match(
    xml,
    /<disk type="network" device="disk">\s*<driver name="qemu" type="raw"\/>\s*<source protocol="rbd" name="rbd\/web1-disk">\s*<host name="mon1.example" port="6789"\/>\s*<host name="mon2.example" port="3300"\/>\s*<auth username="libvirt">\s*<secret type="ceph" usage="ceph1-ceph"\/>\s*<\/auth>\s*<\/source>\s*<target dev="vda" bus="virtio"\/>/,
    'the image as CEPHPOOL/IMAGE, the monitors (6789 when the pool names no port), cephx through the pool\'s secret',
  );
  t.match(xml, /<disk type="volume" device="disk">[\s\S]*?<source pool="gw1" volume="unit:0:0:1"\/>[\s\S]*?<target dev="vdb"/, 'another pool\'s volume stays a volume disk');
  t.match(xml, /<disk type="network" device="cdrom">[\s\S]*?<source protocol="rbd" name="rbd\/debian.iso">/, 'a CD-ROM on the rbd pool too');
  t.notMatch(xml, key, 'no key');
  if (!noValidator) t.equal(invalid(xml, 'domain'), '', `valid against libvirt's domain schema`);

  // A secret named by UUID stays a UUID; a pool without cephx has no <auth>.
  const byUuid = { ...ceph1, source: { ...ceph1.source, auth: { type: 'ceph' as const, username: 'libvirt', secret: { uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f' } } } };
  t.match(buildDomainXml(guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [{ pool: 'ceph1', volume: 'i' }] }, { ceph1: byUuid })), /<secret type="ceph" uuid="0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"\/>/);
  const noAuth = { ...ceph1, source: { name: 'rbd', hosts: [{ name: 'mon1.example' }] } };
  t.notMatch(buildDomainXml(guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [{ pool: 'ceph1', volume: 'i' }] }, { ceph1: noAuth })), /<auth/);
  // Without the pools' definitions a pool volume is a volume disk, as before.
  t.match(buildDomainXml(guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [{ pool: 'ceph1', volume: 'i' }] })), /<source pool="ceph1" volume="i"\/>/);
  t.throws(() => guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [] }, null as never), TypeError, 'pools must be an object');
  t.throws(() => guestDefinition({ name: 'w', memoryMiB: 64, vcpus: 1, disks: [{ pool: 'ceph1', volume: 'i' }] }, { ceph1: { type: 'rbd', name: 'ceph1', source: { name: 'rbd', hosts: [] } } }), TypeError, 'an rbd pool without monitors');
});

t.test('an old kernel session blocking an iscsi pool start is recognised from libvirt\'s error', async (t) => {
  const err = (message: string) => new LibvirtError({ code: 1, domain: 0, level: 2, message });
  const yes = [
    "internal error: Child process (/usr/bin/iscsiadm --mode node --portal 10.0.0.5:3260,1 --targetname iqn.2003-01.org.linux-iscsi.gw1:rbd --login) unexpected exit status 15: iscsiadm: Could not login to [iface: default, target: iqn.2003-01.org.linux-iscsi.gw1:rbd, portal: 10.0.0.5,3260].\niscsiadm: initiator reported error (15 - session exists)\niscsiadm: Could not log into all portals",
    'internal error: Child process (/usr/sbin/iscsiadm --mode node --portal 10.0.0.5:3260 --targetname iqn.x:y --login) unexpected exit status 15',
    'internal error: iscsiadm: default: 1 session requested, but 1 already present.',
  ];
  const no = [
    "internal error: /usr/bin/iscsiadm failed new mode for target 'iqn.2026-11.org.virtkit.test:guests' with status '127'",
    'internal error: Child process (/usr/bin/iscsiadm --mode node --portal 10.0.0.5:3260 --targetname iqn.x:y --login) unexpected exit status 24: iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)',
    'internal error: session exists', // not iscsiadm's
    'operation failed: pool is already active',
  ];
  for (const m of yes) t.equal(isStaleSessionError(err(m)), true, m.slice(0, 60));
  for (const m of no) t.equal(isStaleSessionError(err(m)), false, m.slice(0, 60));
  t.equal(isStaleSessionError(new Error(yes[0])), false, 'only libvirt\'s errors');
  t.equal(isStaleSessionError(null), false);
});

t.test('the iscsiadm logout: an argument array, no password, portals as iscsiadm writes them', async (t) => {
  t.same(iscsiadmLogoutArgs('iqn.2003-01.org.linux-iscsi.gw1:rbd', '10.0.0.5'), ['--mode', 'node', '--targetname', 'iqn.2003-01.org.linux-iscsi.gw1:rbd', '--portal', '10.0.0.5:3260', '--logout']);
  t.same(iscsiadmLogoutArgs('iqn.2026-11.org.example:t', '[fd00::5]:3261').slice(-2), ['[fd00::5]:3261', '--logout']);
  t.throws(() => iscsiadmLogoutArgs('iqn.2026-11.org.example:t; rm -rf /', '10.0.0.5'), TypeError, 'an IQN with a space is refused');
  t.throws(() => iscsiadmLogoutArgs('iqn.2026-11.org.example:t', '10.0.0.5 --op delete'), TypeError);
});

t.test('local libvirt URIs (where iscsiadm would run on the right host)', async (t) => {
  for (const u of ['qemu:///system', 'qemu+unix:///system?socket=/tmp/x/libvirt-sock', 'test:///default', 'qemu://localhost/system']) t.equal(isLocalUri(u), true, u);
  for (const u of ['qemu+ssh://root@kvm1/system', 'qemu+tcp://10.0.0.5/system', 'nonsense']) t.equal(isLocalUri(u), false, u);
});

t.test('logging out a stale session: refused for a remote libvirt host, and where iscsiadm is missing, each naming the command to run', async (t) => {
  const remote = await logoutStaleSession('qemu+ssh://root@kvm1/system', 'iqn.2026-11.org.example:t', '10.0.0.5').then(() => null, (e: unknown) => e as Error);
  t.match(remote?.message, 'the session is on the libvirt host of qemu+ssh://root@kvm1/system, not this one; log it out with: iscsiadm --mode node --targetname iqn.2026-11.org.example:t --portal 10.0.0.5:3260 --logout, there');
  const found = findIscsiadm();
  t.type(found, Promise, 'findIscsiadm looks without blocking the event loop');
  const bin = await found;
  t.test('without iscsiadm', { skip: bin ? `iscsiadm is installed (${bin}): running it would log out real sessions` : false }, async (t) => {
    const missing = await logoutStaleSession('qemu:///system', 'iqn.2026-11.org.example:t', '10.0.0.5').then(() => null, (e: unknown) => e as Error);
    t.match(missing?.message, /^iscsiadm \(Debian package open-iscsi\) is not installed here to log it out; log it out with: iscsiadm --mode node/);
  });
});

t.test('iSCSI failures classified: CHAP (2/1) apart from the ACL (2/2), a missing target (2/3) apart from a dead portal, a portal that wants CHAP', async (t) => {
  const login = (status: number | undefined, kind: 'auth' | 'connect' = status === 0x0201 || status === 0x0202 ? 'auth' : 'connect') =>
    new IscsiError({ kind, op: 'login', message: 'login failed', ...(status === undefined ? {} : { loginStatus: status }) });
  t.equal(iscsiReason(login(0x0201)), 'auth', '2/1: authentication failure');
  t.equal(iscsiReason(login(0x0202)), 'denied', '2/2: authorization failure (the ACL)');
  t.equal(iscsiReason(login(0x0203)), 'no-target', '2/3: not found');
  t.equal(iscsiReason(login(0x0204)), 'no-target', '2/4: target removed');
  t.equal(iscsiReason(login(0x0300)), 'failed', '3/0: a target error is not unreachable');
  t.equal(iscsiReason(login(undefined)), 'unreachable', 'connect without a login status: nothing answered');
  t.equal(iscsiReason(new IscsiError({ kind: 'auth', op: 'login', message: 'the target\'s mutual CHAP answer did not verify' })), 'auth');
  t.equal(iscsiReason(new IscsiError({ kind: 'timeout', op: 'connect', message: 'x' })), 'timeout');
  t.equal(iscsiReason(new Error('x')), 'failed');

  const step: IscsiStep = { stage: 'login', portal: '10.0.0.5:3260', target: 'iqn.2026-11.org.example:t', initiatorIqn: 'iqn.2026-11.org.example:i', chapUser: 'u', timeoutMs: 100 };
  t.match(iscsiWords('auth', login(0x0201), step), /was refused \(CHAP user u\): wrong CHAP user name or password$/);
  const denied = iscsiWords('denied', login(0x0202), step);
  t.match(denied, 'initiator iqn.2026-11.org.example:i is not allowed in (the target\'s ACL; not a CHAP problem)');
  t.notMatch(denied, /wrong CHAP/, 'an ACL refusal does not blame the password');
  t.equal(iscsiWords('no-target', login(0x0203), step), 'the portal 10.0.0.5:3260 answered, but has no target iqn.2026-11.org.example:t');
  t.equal(iscsiWords('auth', login(0x0201), { ...step, stage: 'discovery', chapUser: undefined }), 'the portal 10.0.0.5:3260 refused the discovery login: the portal wants CHAP (options.chap)');
  t.match(iscsiWords('auth', login(0x0201), { ...step, chapUser: undefined }), /the target wants CHAP \(options\.chap\)$/);
});

t.test('socket errors: refused, no route and names that do not resolve are unreachable; libvirt\'s storage source conflict is a conflict', async (t) => {
  for (const code of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) t.equal(isUnreachableCode(code), true, code);
  for (const code of ['ETIMEDOUT', 'ECONNRESET', undefined]) t.equal(isUnreachableCode(code), false, String(code));
  const err = (message: string) => new LibvirtError({ code: 1, domain: 18, level: 2, message });
  t.equal(poolDefineReason(err("operation failed: Storage source conflict with pool: 'gw1'")), 'conflict');
  t.equal(poolDefineReason(err('operation failed: pool is already active')), 'failed');
});
