// Typed domain XML: every one of libvirt's own domain documents parses, builds back to the
// same tree (also when every typed part is written again), typed fields read what the
// documents say, edits change only what they touch, and bad input is refused clearly.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDomainXml, DEVICE_SOURCE, DOMAIN_SOURCE, domainDefinition, parseDomainXml, type DomainDefinition, type DomainDisk, type DomainInterface } from 'virtkit';
import { parseOrdered, serialize } from '../../lib/xml/ordered';
import { fixtures, canValidateXml, validateXml } from '../helpers';

const dir = path.join(fixtures, 'libvirt-xml', 'domain');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.xml')).sort();
const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const plain = (o: unknown) => JSON.parse(JSON.stringify(o));
/** The ordered tree, serialised: elements, attributes, text and comments in order. */
const tree = (xml: string) => serialize(parseOrdered(xml, 'test'));
const canValidate = canValidateXml;
const validate = (xml: string) => validateXml(xml, 'domain');
const disks = (d: DomainDefinition) => (d.devices ?? []).filter((x): x is DomainDisk => x.kind === 'disk');
const ifaces = (d: DomainDefinition) => (d.devices ?? []).filter((x): x is DomainInterface => x.kind === 'interface');

t.test("every libvirt domain document parses and builds back to the same tree", async (t) => {
  t.equal(files.length, 319);
  let same = 0;
  let rewritten = 0;
  for (const f of files) {
    const doc = read(f);
    const def = parseDomainXml(doc);
    if (tree(buildDomainXml(def)) === tree(doc)) same++;
    else t.fail(`${f}: build(parse(doc)) differs`);
    // Force every typed part to be written again onto the retained tree: the typed builders
    // must reproduce what they read, in place.
    const forced = parseDomainXml(doc) as DomainDefinition & { [DOMAIN_SOURCE]: { fields: Record<string, string> } };
    for (const k of Object.keys(forced[DOMAIN_SOURCE].fields)) forced[DOMAIN_SOURCE].fields[k] = 'changed';
    for (const dev of forced.devices ?? []) (dev as unknown as { [DEVICE_SOURCE]: { snapshot: string } })[DEVICE_SOURCE].snapshot = 'changed';
    if (tree(buildDomainXml(forced)) === tree(doc)) rewritten++;
    else t.fail(`${f}: writing every typed part again changes the document`);
  }
  t.equal(same, files.length, 'build(parse(doc)) has the same ordered tree as doc, for every document');
  t.equal(rewritten, files.length, 'the same with every typed part rewritten');
});

t.test('typed fields: UEFI with firmware autoselection, manual OVMF, aarch64', async (t) => {
  const auto = parseDomainXml(read('firmware-auto-efi-enrolled-keys.x86_64-latest.xml'));
  t.equal(auto.type, 'kvm');
  t.same(plain(auto.os), {
    type: 'hvm',
    arch: 'x86_64',
    machine: 'pc-q35-4.0',
    firmware: 'efi',
    firmwareFeatures: [
      { name: 'enrolled-keys', enabled: true },
      { name: 'secure-boot', enabled: true },
    ],
    boot: ['hd'],
  });
  t.equal(auto.memory, 8192 * 1024, '<memory unit=KiB> in bytes');
  t.same(auto.features, ['acpi']);
  t.same(plain(auto.cpu), { mode: 'custom', match: 'exact', check: 'none', model: { name: 'qemu64', fallback: 'forbid' } });

  const manual = parseDomainXml(read('firmware-manual-efi.xml'));
  t.same(plain(manual.os?.loader), { path: '/usr/share/OVMF/OVMF_CODE.fd', readonly: true, type: 'pflash' });
  t.same(plain(manual.os?.nvram), { path: '/some/user/nvram/path/guest_VARS.fd' });

  const iscsiNvram = parseDomainXml(read('firmware-manual-efi-nvram-network-iscsi.x86_64-latest.xml'));
  t.same(plain(iscsiNvram.os?.nvram), { type: 'network' }, 'a network NVRAM store: its <source> stays in the tree');

  const arm = parseDomainXml(read('aarch64-aavmf-virtio-mmio.xml'));
  t.same(plain(arm), {
    type: 'qemu',
    name: 'aarch64test',
    uuid: '496d7ea8-9739-544b-4ebd-ef08be936e8b',
    memory: 1024 ** 3,
    currentMemory: 1024 ** 3,
    vcpu: { count: 1, placement: 'static' },
    os: {
      type: 'hvm',
      arch: 'aarch64',
      machine: 'virt',
      kernel: '/aarch64.kernel',
      initrd: '/aarch64.initrd',
      cmdline: 'earlyprintk console=ttyAMA0,115200n8 rw root=/dev/vda rootwait',
      dtb: '/aarch64.dtb',
      boot: ['hd'],
    },
    features: ['apic', 'pae', 'gic'],
    featuresXml: '<features>\n  <apic/>\n  <pae/>\n  <gic version="2"/>\n</features>',
    cpu: { mode: 'custom', match: 'exact', check: 'none', model: { name: 'cortex-a53', fallback: 'allow' } },
    clock: { offset: 'utc' },
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'restart',
    emulator: '/usr/bin/qemu-system-aarch64',
    devices: [
      { kind: 'disk', type: 'file', device: 'disk', target: { dev: 'vda', bus: 'virtio' }, driver: { name: 'qemu', type: 'raw' }, source: { file: '/aarch64.raw' }, address: { type: 'virtio-mmio' } },
      { kind: 'controller', type: 'virtio-serial', index: 0, address: { type: 'virtio-mmio' } },
      { kind: 'interface', type: 'user', mac: '52:54:00:09:a4:37', model: 'virtio', address: { type: 'virtio-mmio' } },
      { kind: 'console', type: 'pty', target: { type: 'virtio', port: 0 } },
      { kind: 'raw', name: 'audio', xml: '<audio id="1" type="none"/>' },
      { kind: 'memballoon', model: 'virtio', address: { type: 'virtio-mmio' } },
      { kind: 'rng', model: 'virtio', backend: { model: 'random', path: '/dev/random' }, address: { type: 'virtio-mmio' } },
    ],
  });
  const hvf = parseDomainXml(read('hvf-aarch64-virt-headless.xml'));
  t.same(plain(hvf.os?.loader), { path: '/usr/share/edk2/aarch64/QEMU_EFI-silent-pflash.raw', readonly: true, type: 'pflash' }, 'AAVMF on aarch64');
  t.same(plain(hvf.clock), { offset: 'utc', timers: [{ name: 'rtc', tickpolicy: 'catchup' }, { name: 'pit', tickpolicy: 'delay' }, { name: 'hpet', present: false }] });
});

t.test('typed fields: network disks, volume disks, cpu, devices', async (t) => {
  const chains = disks(parseDomainXml(read('disk-backing-chains-noindex.xml')));
  t.same(plain(chains[3]), {
    kind: 'disk',
    type: 'network',
    device: 'disk',
    target: { dev: 'vdd', bus: 'virtio' },
    driver: { name: 'qemu', type: 'qcow2' },
    source: {
      protocol: 'rbd',
      name: 'pool/image',
      hosts: [
        { name: 'mon1.example.org', port: 6321 },
        { name: 'mon2.example.org', port: 6322 },
        { name: 'mon3.example.org', port: 6322 },
      ],
    },
    auth: { username: 'myname', secret: { type: 'ceph', usage: 'mycluster_myname' } },
    address: { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x05', function: '0x0' },
  }, 'rbd with a cephx secret by usage (auth under <disk>)');
  t.same(plain(chains[1]!.source), { protocol: 'nbd', name: 'bar', hosts: [{ transport: 'unix', socket: '/var/run/nbdsock' }] });
  t.same(plain(disks(parseDomainXml(read('disk-network-http.x86_64-latest.xml')))[1]!.source), { protocol: 'https', name: 'test2.img', hosts: [{ name: 'example.org', port: 443 }] });
  t.same(plain(disks(parseDomainXml(read('disk-network-gluster.xml')))[0]!.source?.protocol), 'gluster');

  const pool = disks(parseDomainXml(read('disk-source-pool.xml')));
  t.same(plain(pool[0]), {
    kind: 'disk',
    type: 'volume',
    device: 'cdrom',
    target: { dev: 'hda', bus: 'ide' },
    driver: { name: 'qemu' },
    source: { pool: 'pool-disk', volume: 'block+cdrom' },
    readonly: true,
    address: { type: 'drive', controller: '0', bus: '0', target: '0', unit: '1' },
  });
  // libvirt's qemuxml2xmloutdata has no iSCSI disk with CHAP by UUID nor a volume disk with
  // mode; these two are written here in the documented form (formatdomain.html#hard-drives-floppy-disks-cdroms).
  const own = parseDomainXml(`<domain type='kvm'><name>g</name><memory>1048576</memory><os><type>hvm</type></os><devices>
    <disk type='network' device='lun'>
      <driver name='qemu' type='raw' cache='none' io='native' discard='unmap'/>
      <source protocol='iscsi' name='iqn.2013-07.com.example:iscsi-pool/1'>
        <host name='example.com' port='3260'/>
        <auth username='myuser'><secret type='iscsi' uuid='3e6b3f6c-2c1d-4b89-9a51-6a3a4bbd5e1b'/></auth>
        <initiator><iqn name='iqn.2013-07.com.example:client'/></initiator>
      </source>
      <target dev='sda' bus='scsi'/>
      <boot order='1'/>
      <shareable/>
      <serial>WD-WMAP9A966149</serial>
      <wwn>5000c50015ea71ac</wwn>
    </disk>
    <disk type='volume' device='disk'>
      <source pool='iscsi-pool' volume='unit:0:0:1' mode='direct'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eth0' mode='bridge'/><model type='virtio'/></interface>
  </devices></domain>`);
  t.equal(own.memory, 1048576, 'no unit: bytes');
  t.same(plain(disks(own)[0]), {
    kind: 'disk',
    type: 'network',
    device: 'lun',
    target: { dev: 'sda', bus: 'scsi' },
    driver: { name: 'qemu', type: 'raw', cache: 'none', io: 'native', discard: 'unmap' },
    source: {
      protocol: 'iscsi',
      name: 'iqn.2013-07.com.example:iscsi-pool/1',
      hosts: [{ name: 'example.com', port: 3260 }],
      auth: { username: 'myuser', secret: { type: 'iscsi', uuid: '3e6b3f6c-2c1d-4b89-9a51-6a3a4bbd5e1b' } },
      initiatorIqn: 'iqn.2013-07.com.example:client',
    },
    bootOrder: 1,
    shareable: true,
    serial: 'WD-WMAP9A966149',
    wwn: '5000c50015ea71ac',
  });
  t.same(plain(disks(own)[1]!.source), { pool: 'iscsi-pool', volume: 'unit:0:0:1', mode: 'direct' });
  t.same(plain(ifaces(own)), [{ kind: 'interface', type: 'direct', mac: '52:54:00:00:00:01', model: 'virtio', source: { dev: 'eth0', mode: 'bridge' } }]);

  // Interfaces of each type libvirt's documents use.
  t.same(plain(ifaces(parseDomainXml(read('net-midonet.xml')))[0]), {
    kind: 'interface', type: 'bridge', mac: '00:11:22:33:44:55', model: 'virtio', source: { bridge: 'midonet' },
    address: { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x02', function: '0x0' },
  });
  t.same(plain(ifaces(parseDomainXml(read('net-virtio-network-portgroup.xml')))[0]!.source), { network: 'rednet', portgroup: 'bob' });
  t.equal(ifaces(parseDomainXml(read('net-virtio-network-portgroup.xml')))[0]!.type, 'network');
  t.same(plain(ifaces(parseDomainXml(read('net-eth.xml')))[0]), {
    kind: 'interface', type: 'ethernet', mac: '00:11:22:33:44:55', model: 'rtl8139',
    address: { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x02', function: '0x0' },
  });
  t.equal(ifaces(parseDomainXml(read('aarch64-aavmf-virtio-mmio.xml')))[0]!.type, 'user');

  t.same(plain(parseDomainXml(read('cpu-host-model-features.xml')).cpu), {
    mode: 'host-model', check: 'partial',
    features: [{ name: 'abm', policy: 'require' }, { name: 'ds', policy: 'force' }, { name: 'invtsc', policy: 'disable' }],
  });
  t.same(plain(parseDomainXml(read('smp.xml')).cpu), { topology: { sockets: 2, dies: 1, cores: 1, threads: 1 } });
  const dev = (f: string, kind: string) => plain((parseDomainXml(read(f)).devices ?? []).find((d) => d.kind === kind));
  t.same(dev('graphics-vnc.xml', 'graphics'), { kind: 'graphics', type: 'vnc', port: 5903, autoport: false, listen: '2001:1:2:3:4:5:1234:1234' });
  t.same(dev('graphics-vnc.xml', 'video'), { kind: 'video', model: { type: 'cirrus', vram: 16384, heads: 1, primary: true }, address: { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x02', function: '0x0' } });
  t.same(dev('channel-virtio.xml', 'channel'), { kind: 'channel', type: 'pty', target: { type: 'virtio', name: 'org.linux-kvm.port.foo' }, address: { type: 'virtio-serial', controller: '1', bus: '0', port: '3' } });
  t.same(dev('tpm-emulator.x86_64-latest.xml', 'tpm'), { kind: 'tpm', model: 'tpm-tis', backend: { type: 'emulator', version: '1.2' } });
  t.same(dev('watchdog.xml', 'watchdog'), { kind: 'watchdog', model: 'ib700', action: 'poweroff' });
  t.same(dev('watchdog.xml', 'input'), { kind: 'input', type: 'mouse', bus: 'ps2' });
  const md = parseDomainXml(read('metadata.xml'));
  t.match(md.metadata, /^<metadata>/, 'metadata kept as XML');
});

t.test('edits change exactly what they touch', async (t) => {
  const doc = read('disk-backing-chains-noindex.xml');
  const def = parseDomainXml(doc);
  def.memory = 512 * 1024 ** 2;
  def.vcpu!.count = 4;
  def.vcpu!.current = 2;
  const file = disks(def).find((d) => d.type === 'file')!;
  file.source = { file: '/var/lib/libvirt/images/new.qcow2' };
  const out = buildDomainXml(def);
  t.match(out, /<memory unit="KiB">524288<\/memory>/);
  t.match(out, /<currentMemory unit="KiB">219136<\/currentMemory>/, 'currentMemory untouched');
  t.match(out, /<vcpu placement="static" current="2">4<\/vcpu>/);
  t.match(out, /<source file="\/var\/lib\/libvirt\/images\/new.qcow2"\/>\s*<backingStore type="file">/, 'the backing chain after the new source stays');
  const before = doc.split('\n').length;
  t.equal(out.split('\n').length, before, 'same number of lines: nothing else added or dropped');
  // Only the memory, vcpu and that disk's source line differ.
  const a = tree(doc).split('\n');
  const b = tree(out).split('\n');
  const diff = a.map((line, i) => (line === b[i] ? null : `${line} -> ${b[i]}`)).filter(Boolean);
  t.equal(diff.length, 3, diff.join('\n'));

  // Adding a disk and removing a device.
  const def2 = parseDomainXml(doc);
  def2.devices = def2.devices!.filter((d) => !(d.kind === 'input' && d.type === 'mouse'));
  def2.devices.splice(6, 0, { kind: 'disk', type: 'volume', device: 'disk', driver: { name: 'qemu', type: 'raw' }, source: { pool: 'p', volume: 'v', mode: 'direct' }, target: { dev: 'vdg', bus: 'virtio' } });
  const out2 = buildDomainXml(def2);
  t.notMatch(out2, /<input type="mouse"/);
  t.match(out2, /<input type="keyboard" bus="ps2"\/>/);
  t.match(out2, /<disk type="volume" device="disk">\s*<driver name="qemu" type="raw"\/>\s*<source pool="p" volume="v" mode="direct"\/>\s*<target dev="vdg" bus="virtio"\/>\s*<\/disk>\s*<controller type="usb"/);
  const back = parseDomainXml(out2);
  t.equal(disks(back).length, 7);

  // Unknown content survives an edit of the part that holds it.
  const unknown = parseDomainXml(`<domain type='kvm'><name>u</name><!-- keep me --><future a='1'/><os><type>hvm</type><extra/></os>
    <devices><emulator>/e</emulator><!-- before the disk --><disk type='file' device='disk' x='y'><source file='/a' index='3'><z/></source><target dev='vda'/><iotune/></disk><sound model='ich9'/></devices></domain>`);
  unknown.name = 'renamed';
  unknown.os!.boot = ['cdrom', 'hd'];
  disks(unknown)[0]!.source!.file = '/b';
  disks(unknown)[0]!.target.bus = 'virtio';
  const u = buildDomainXml(unknown);
  for (const kept of ['<!-- keep me -->', '<future a="1"/>', '<extra/>', '<!-- before the disk -->', 'x="y"', '<source file="/b" index="3">', '<z/>', '<iotune/>', '<sound model="ich9"/>'])
    t.ok(u.includes(kept), `${kept} kept`);
  t.match(u, /<name>renamed<\/name>/);
  t.match(u, /<boot dev="cdrom"\/>\s*<boot dev="hd"\/>/);
  t.match(u, /<target dev="vda" bus="virtio"\/>/);

  // Raw devices and raw features can be edited as XML.
  const raw = parseDomainXml(read('aarch64-aavmf-virtio-mmio.xml'));
  const audio = raw.devices!.find((d) => d.kind === 'raw')!;
  if (audio.kind === 'raw') audio.xml = "<audio id='1' type='spice'/>";
  raw.features = ['apic', 'gic', 'acpi'];
  const r = buildDomainXml(raw);
  t.match(r, /<audio id="1" type="spice"\/>/);
  t.match(r, /<features>\s*<apic\/>\s*<gic version="2"\/>\s*<acpi\/>\s*<\/features>/, 'pae removed, acpi added, gic keeps its version');
});

t.test('the builder for the common case', { skip: canValidate ? false : 'virt-xml-validate or xmllint missing (libvirt-clients, libxml2-utils)' }, async (t) => {
  for (const firmware of ['bios', 'uefi'] as const)
    for (const machine of ['q35', 'pc'] as const) {
      const xml = buildDomainXml(
        domainDefinition({
          name: `g-${firmware}-${machine}`,
          memory: 1024 ** 3,
          vcpus: 2,
          firmware,
          machine,
          disks: [{ pool: 'gw1', volume: 'unit:0:0:1' }, { path: '/var/lib/libvirt/images/a.qcow2', format: 'qcow2' }, { path: '/iso/boot.iso', device: 'cdrom' }],
          interfaces: [{ network: 'default' }],
        }),
      );
      const v = validate(xml);
      t.equal(v.status, 0, `${firmware}/${machine} valid against libvirt's domain schema: ${v.stderr.trim()}`);
      t.match(xml, new RegExp(`<type arch="x86_64" machine="${machine}">hvm</type>`));
      if (firmware === 'uefi') t.match(xml, /<os firmware="efi">/);
      else t.notMatch(xml, /firmware/);
      t.match(xml, new RegExp(`<target dev="${machine === 'pc' ? 'hda' : 'sda'}" bus="${machine === 'pc' ? 'ide' : 'sata'}"/>`), 'cdrom bus follows the machine');
    }
  const def = domainDefinition({ name: 'd', memory: 256 * 1024 ** 2, vcpus: 1, disks: [{ pool: 'p', volume: 'v' }, { path: '/dev/sdb' }] });
  t.same(plain(def.devices), [
    { kind: 'disk', type: 'volume', device: 'disk', driver: { name: 'qemu', type: 'raw' }, source: { pool: 'p', volume: 'v' }, target: { dev: 'vda', bus: 'virtio' } },
    { kind: 'disk', type: 'block', device: 'disk', driver: { name: 'qemu', type: 'raw' }, source: { dev: '/dev/sdb' }, target: { dev: 'vdb', bus: 'virtio' } },
    { kind: 'serial', type: 'pty', target: { port: 0 } },
    { kind: 'console', type: 'pty', target: { type: 'serial', port: 0 } },
    { kind: 'memballoon', model: 'virtio' },
  ]);
  t.equal(def.type, 'kvm');
  t.same(plain(def.cpu), { mode: 'host-passthrough' });
  const arm = domainDefinition({ name: 'a', memory: 1024 ** 3, vcpus: 1, arch: 'aarch64', type: 'qemu' });
  t.same(plain(arm.os), { type: 'hvm', arch: 'aarch64', machine: 'virt', firmware: 'efi', boot: ['hd'] }, 'aarch64: virt machine, UEFI');
  t.equal(arm.cpu, undefined);
  t.equal(validate(buildDomainXml(arm)).status, 0);
  t.throws(() => domainDefinition({ name: 'x', memory: 1000, vcpus: 1 }), TypeError, 'memory not a whole KiB');
  t.throws(() => domainDefinition({ name: 'x', memory: 1024, vcpus: 0 }), TypeError);
  t.throws(() => domainDefinition({ name: 'x', memory: 1024, vcpus: 1, firmware: 'efi' as never }), TypeError);
  t.throws(() => domainDefinition({ name: 'x', memory: 1024, vcpus: 1, disks: [{ path: '/a', pool: 'p' } as never] }), TypeError);
});

t.test('bad input', async (t) => {
  t.throws(() => parseDomainXml(42 as never), TypeError);
  t.throws(() => parseDomainXml(undefined as never), TypeError);
  t.throws(() => parseDomainXml('<domain type="kvm"><name>x</name>'), SyntaxError, 'unclosed');
  t.throws(() => parseDomainXml('<pool type="dir"/>'), SyntaxError, 'wrong root');
  t.throws(() => parseDomainXml('<domain/><domain/>'), SyntaxError, 'two roots');
  t.throws(() => parseDomainXml('<domain><a></b></domain>'), SyntaxError, 'mismatched tags');
  t.throws(() => parseDomainXml('<domain a="1" a="2"/>'), SyntaxError, 'repeated attribute');
  t.throws(() => parseDomainXml("<domain type='kvm'><memory unit='parsecs'>1</memory></domain>"), SyntaxError);
  t.throws(() => parseDomainXml("<domain type='kvm'><memory unit='EiB'>9</memory></domain>"), RangeError);
  t.throws(() => parseDomainXml("<domain type='kvm'><vcpu>many</vcpu></domain>"), SyntaxError);
  t.throws(
    () => parseDomainXml('<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain type="kvm"><name>&x;</name></domain>'),
    SyntaxError,
    'entity declarations are refused, never expanded',
  );
  t.equal(parseDomainXml("<domain type='kvm'><name>a&amp;b&lt;</name></domain>").name, 'a&b<', 'predefined entities are plain characters');
  t.throws(() => buildDomainXml(null as never), TypeError);
  t.throws(() => buildDomainXml({ name: 'x' } as never), TypeError, 'type missing');
  t.throws(() => buildDomainXml({ type: 'kvm', name: 'x', memory: -1 }), TypeError);
  t.throws(() => buildDomainXml({ type: 'kvm', name: 'x', memory: 1.5 }), TypeError);
  t.throws(() => buildDomainXml({ type: 'kvm', name: 'x', devices: [{ kind: 'floppy' }] } as never), TypeError);
  t.throws(() => buildDomainXml({ type: 'kvm', name: 'x', features: ['a b'] }), TypeError);
  t.throws(() => buildDomainXml({ type: 'kvm', name: 'x', devices: [{ kind: 'raw', name: 'sound', xml: '<audio/>' }] }), TypeError, 'raw xml must be its element');
  t.throws(() => buildDomainXml({ type: 'kvm', name: 'x', metadata: '<meta' }), SyntaxError);
  t.throws(
    () => buildDomainXml({ type: 'kvm', name: 'x', devices: [{ kind: 'disk', type: 'network', target: { dev: 'vda' }, source: { auth: { username: 'u', secret: {} } } }] }),
    TypeError,
    'a secret needs usage or uuid',
  );
  const d = parseDomainXml(read('watchdog.xml'));
  const wd = d.devices!.find((x) => x.kind === 'watchdog')!;
  (wd as { kind: string }).kind = 'rng';
  t.throws(() => buildDomainXml(d), TypeError, 'a parsed device cannot change its element');
});

t.test('character references, mixed content and comments survive a rebuild exactly', async (t) => {
  const doc = `<domain type='kvm'><name>refs</name><memory>1024</memory><os><type>hvm</type></os><metadata><app:o xmlns:app='http://example.org/app' note='line1&#10;line2&#9;tab'>Jos&#xE9; &amp;#10; <b>bold</b> tail</app:o><!--a--b-c---></metadata></domain>`.replace('<!--a--b-c--->', '<!--a-b-c-->');
  const def = parseDomainXml(doc);
  const out = buildDomainXml(def);
  t.match(out, /note="line1&#10;line2&#9;tab"/, 'line breaks and tabs in attributes stay references');
  t.match(out, /<app:o [^>]*>José &amp;#10; <b>bold<\/b> tail<\/app:o>/, 'numeric references decoded once, escaped text kept, mixed content inline');
  const again = parseDomainXml(out);
  t.same(buildDomainXml(again), out, 'a second rebuild is identical');
  const meta = String(def.metadata);
  t.match(meta, /José/);
  t.throws(() => parseDomainXml('<domain><name>&bogus;</name></domain>'), SyntaxError, 'an unknown entity is refused, never expanded');
  t.throws(() => parseDomainXml('<domain><name>&#0;</name></domain>'), SyntaxError, 'an invalid character reference is refused');
  // A comment whose text would not be legal XML is written so that it parses again.
  const withComment = parseDomainXml("<domain type='test'><name>c</name><!-- x - y --></domain>");
  (withComment as { name: string }).name = 'c2';
  t.doesNotThrow(() => parseDomainXml(buildDomainXml(withComment)));
});

t.test('bad guest options and names that would change the document are TypeErrors', async (t) => {
  const base = { name: 'x', memory: 1 << 30, vcpus: 1 };
  t.throws(() => domainDefinition({ ...base, disks: [{ network: { protocol: 'rbd', name: 'p/i' } } as never] }), TypeError, 'network disk without hosts');
  t.throws(() => domainDefinition({ ...base, disks: [{ path: 5 } as never] }), TypeError, 'non-string path');
  t.throws(() => domainDefinition({ ...base, disks: [{ pool: 'p' } as never] }), TypeError, 'pool without volume');
  const def = parseDomainXml("<domain type='test'><name>a</name><memory>1024</memory><os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='/x'/><target dev='vda'/><address type='pci' domain='0' bus='0' slot='5' function='0'/></disk></devices></domain>");
  const disk = def.devices!.find((d) => d.kind === 'disk') as DomainDisk;
  (disk.address as Record<string, string>)['x"/><evil a="'] = '1';
  t.throws(() => buildDomainXml(def), TypeError, 'an attribute name with quotes is refused, never written');
});
