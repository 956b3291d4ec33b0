// Typed storage volume XML: libvirt's own documents, hand-written definitions, lossless edits.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildVolumeXml, parseVolumeXml } from 'virtkit';
import { fixtures, canValidateXml, validateXml } from '../helpers';

const dir = path.join(fixtures, 'libvirt-xml', 'storagevol');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.xml')).sort();
const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const canValidate = canValidateXml;
const validate = (xml: string) => validateXml(xml, 'storagevol');
const plain = (o: unknown) => JSON.parse(JSON.stringify(o));

t.test("typed fields of libvirt's volume documents", async (t) => {
  t.equal(files.length, 9);
  const backing = parseVolumeXml(read('vol-file-backing.xml'));
  t.equal(backing.capacity, 10_000_000_000, "unit='GB'");
  t.equal(backing.allocation, 0);
  t.same(plain(backing.backingStore), { path: '/var/lib/virt/images/master.img', format: 'vmdk', permissions: { mode: '0744', owner: 1, group: 1, label: 'virt_image_t' } });
  const qcow = parseVolumeXml(read('vol-file-qcow2.xml'));
  t.equal(qcow.capacity, 1024 ** 4, "unit='TiB'");
  t.same(plain(qcow.target?.timestamps), { atime: '1341933637.273190990', mtime: '1341930622.047245868', ctime: '1341930622.047245868' });
  const logical = parseVolumeXml(read('vol-logical.xml'));
  t.equal(logical.type, 'block');
  t.same(plain(logical.sourceDevices), [{ path: '/dev/sda2', extents: [{ start: 31440502784, end: 33520877568 }] }]);
  const luks = parseVolumeXml(read('vol-qcow2-luks.xml'));
  t.same(plain(luks.target?.encryption), { format: 'luks', secrets: [{ type: 'passphrase', uuid: 'e78d4b51-a2af-485f-b0f5-afca709a80f4' }] });
  const cluster = parseVolumeXml(read('vol-qcow2-clusterSize.xml'));
  t.equal(cluster.target?.clusterSize, 128 * 1024);
  t.same(cluster.target?.features, ['extended_l2']);
});

t.test('build(parse(doc)) parses back equal and is valid against the schema', { skip: canValidate ? false : 'virt-xml-validate or xmllint missing (libvirt-clients, libxml2-utils)' }, async (t) => {
  for (const f of files) {
    const built = buildVolumeXml(parseVolumeXml(read(f)));
    t.same(plain(parseVolumeXml(built)), plain(parseVolumeXml(read(f))), `${f} parses back equal`);
    t.equal(validate(built).status, 0, `${f} valid`);
  }
});

t.test('hand-written definitions and lossless edits', { skip: canValidate ? false : 'virt-xml-validate or xmllint missing' }, async (t) => {
  const xml = buildVolumeXml({ name: 'disk0.qcow2', capacity: 20 * 1024 ** 3, target: { format: 'qcow2', features: ['lazy_refcounts'], compat: '1.1' } });
  t.equal(validate(xml).status, 0, 'valid');
  t.match(xml, /<capacity unit="bytes">21474836480<\/capacity>/);
  const def = parseVolumeXml(read('vol-file-backing.xml'));
  def.capacity = 5 * 1024 ** 3;
  def.target!.format = 'qcow2';
  const out = buildVolumeXml(def);
  t.equal(validate(out).status, 0, 'edited document valid');
  t.match(out, /<!-- lines scrambled to test interleaves -->/, 'comments survive');
  t.match(out, /<source\/>/, 'the empty source survives');
  t.match(out, /<format type="qcow2"\/>/);
  t.match(out, /<capacity unit="bytes">5368709120<\/capacity>/);
  t.match(out, /<label>virt_image_t<\/label>/);
});

t.test('bad input', async (t) => {
  t.throws(() => parseVolumeXml('<pool/>'), SyntaxError);
  t.throws(() => parseVolumeXml("<volume type='tape'><name>x</name></volume>"), SyntaxError);
  t.throws(() => parseVolumeXml("<volume><name>x</name><capacity unit='lightyears'>1</capacity></volume>"), SyntaxError);
  t.throws(() => parseVolumeXml('<volume><name>x</name><capacity>-1</capacity></volume>'), SyntaxError);
  t.throws(() => buildVolumeXml({ name: 'x', capacity: -1 }), TypeError);
  t.throws(() => buildVolumeXml({ name: 'x', capacity: 1.5 }), TypeError);
  t.throws(() => buildVolumeXml({ name: 'x', type: 'tape' } as never), TypeError);
  t.throws(() => buildVolumeXml(null as never), TypeError);
});
