// Typed secret XML: parse, build, lossless round trips, and bad input.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSecretXml, parseSecretXml } from 'virtkit';
import { fixtures, validateXml } from '../helpers';

const dir = path.join(fixtures, 'libvirt-xml', 'secret');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.xml'));

t.test('libvirt\'s secret documents parse to typed definitions', async (t) => {
  t.same(files.sort(), ['ephemeral-usage-volume.xml', 'usage-ceph.xml', 'usage-iscsi.xml']);
  const iscsi = parseSecretXml(fs.readFileSync(path.join(dir, 'usage-iscsi.xml'), 'utf8'));
  t.same({ ...iscsi }, {
    ephemeral: false,
    private: true,
    uuid: '27f25d34-aea6-4e2a-be85-fa2c18380be8',
    description: 'iSCSI secret',
    usage: { type: 'iscsi', target: 'iscsitarget' },
  });
  const ceph = parseSecretXml(fs.readFileSync(path.join(dir, 'usage-ceph.xml'), 'utf8'));
  t.same(ceph.usage, { type: 'ceph', name: 'CephCephCephCeph' });
  const vol = parseSecretXml(fs.readFileSync(path.join(dir, 'ephemeral-usage-volume.xml'), 'utf8'));
  t.equal(vol.ephemeral, true);
  t.same(vol.usage, { type: 'volume', volume: '/var/lib/libvirt/images/image.img' });
});

t.test('build(parse(doc)) parses back to the same definition, and validates against libvirt\'s schema', async (t) => {
  const hasValidator = fs.existsSync('/usr/bin/virt-xml-validate') && fs.existsSync('/usr/bin/xmllint');
  for (const f of files) {
    const doc = fs.readFileSync(path.join(dir, f), 'utf8');
    const built = buildSecretXml(parseSecretXml(doc));
    t.same({ ...parseSecretXml(built) }, { ...parseSecretXml(doc) }, f);
    if (!hasValidator) continue;
    const r = validateXml(built, 'secret');
    t.equal(r.status, 0, `${f} validates: ${r.stderr}`);
  }
});

t.test('schema check tools', { skip: fs.existsSync('/usr/bin/virt-xml-validate') && fs.existsSync('/usr/bin/xmllint') ? false : 'virt-xml-validate (libvirt-clients) or xmllint (libxml2-utils) missing: built documents not checked against libvirt\'s RNG schema' }, async (t) => {
  t.pass('present');
});

t.test('what the types do not model survives an edit', async (t) => {
  const doc = `<secret ephemeral='no' private='no' future-attr='1'>
  <!-- keep me -->
  <uuid>0b2f5a0e-1111-2222-3333-444444444444</uuid>
  <description>old</description>
  <usage type='iscsi'><target>t1</target><extra flavour='x'/></usage>
  <unknown-element><child a="b">text &amp; more</child></unknown-element>
</secret>`;
  const def = parseSecretXml(doc);
  def.description = 'new <description>';
  def.private = true;
  const out = buildSecretXml(def);
  t.match(out, /<description>new &lt;description&gt;<\/description>/);
  t.match(out, /private="yes"/);
  t.match(out, /future-attr="1"/);
  t.match(out, /<!-- keep me -->/);
  t.match(out, /<extra flavour="x"\/>/);
  t.match(out, /<child a="b">text &amp; more<\/child>/);
  t.match(out, /<target>t1<\/target>/);
  // Changing the usage type replaces the id element and keeps the unknown one.
  def.usage = { type: 'ceph', name: 'client.admin' };
  const ceph = buildSecretXml(def);
  t.match(ceph, /<usage type="ceph">/);
  t.match(ceph, /<name>client\.admin<\/name>/);
  t.notMatch(ceph, /<target>/);
  t.match(ceph, /<extra flavour="x"\/>/);
  // Removing a field removes its element.
  delete def.description;
  t.notMatch(buildSecretXml(def), /<description>/);
});

t.test('a definition written by hand', async (t) => {
  const xml = buildSecretXml({ private: true, description: 'CHAP for gw1', usage: { type: 'iscsi', target: 'gw1-chap' } });
  t.equal(
    xml,
    '<secret private="yes">\n  <description>CHAP for gw1</description>\n  <usage type="iscsi">\n    <target>gw1-chap</target>\n  </usage>\n</secret>\n',
  );
});

t.test('bad input', async (t) => {
  t.throws(() => parseSecretXml('<pool/>'), SyntaxError);
  t.throws(() => parseSecretXml("<secret ephemeral='maybe'/>"), SyntaxError);
  t.throws(() => parseSecretXml("<secret><usage type='weird'/></secret>"), SyntaxError);
  t.throws(() => parseSecretXml("<secret><usage type='toString'/></secret>"), SyntaxError, 'inherited names are not usage types');
  t.throws(() => buildSecretXml({ usage: { type: 'constructor', name: 'x' } } as never), TypeError);
  t.throws(() => parseSecretXml('<secret><uuid>x</uuid'), SyntaxError);
  t.throws(() => parseSecretXml('<!DOCTYPE s [<!ENTITY x "y">]><secret>&x;</secret>'), SyntaxError);
  t.throws(() => parseSecretXml(undefined as never), TypeError);
  t.throws(() => buildSecretXml(null as never), TypeError);
  t.throws(() => buildSecretXml({ private: 'yes' } as never), TypeError);
  t.throws(() => buildSecretXml({ usage: { type: 'iscsi', name: 'x' } } as never), TypeError);
  t.throws(() => buildSecretXml({ usage: { type: 'nfs' } } as never), TypeError);
});
