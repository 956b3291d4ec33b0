// Secrets on the private libvirtd: libvirt's own documents round-trip through the typed XML,
// values go in and out as Buffers and never show up in errors, inspect or JSON.
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { buildSecretXml, connect, ConnectListAllSecretsFlags, LibvirtError, parseSecretXml, Secret } from 'virtkit';
import { daemonUri, fixtures, registerSecret } from '../helpers';

const target = daemonUri();
if ('skip' in target) {
  t.test('secrets on the daemon', { skip: target.skip }, async () => {});
} else {
  const { uri } = target;
  const dir = path.join(fixtures, 'libvirt-xml', 'secret');

  const codeOf = async (p: Promise<unknown>) => {
    const e = await p.then(() => null, (err: unknown) => err);
    return e instanceof LibvirtError ? e.codeName : String(e);
  };

  t.test('libvirt prints back the same XML for build(parse(doc)) as for doc', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.xml'))) {
      const doc = fs.readFileSync(path.join(dir, f), 'utf8');
      const original = await conn.defineSecret(doc);
      const printedOriginal = await original.getXML();
      await original.undefine();
      const rebuilt = await conn.defineSecret(buildSecretXml(parseSecretXml(doc)));
      t.equal(await rebuilt.getXML(), printedOriginal, f);
      t.same({ ...(await rebuilt.describe()) }, { ...parseSecretXml(printedOriginal) });
      await rebuilt.undefine();
    }
  });

  t.test('a CHAP secret: define, set and read the value, look it up, list, undefine', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const target = `iqn.2026-11.org.virtkit.test:chap-${randomUUID()}`;
    const value = registerSecret('daemon/20 secret value (base64 text)', randomBytes(24).toString('base64'));
    const secret = await conn.defineSecret({ private: false, description: 'CHAP for the test target', usage: { type: 'iscsi', target } });
    t.ok(secret instanceof Secret);
    t.match(secret.uuid, /^[0-9a-f-]{36}$/);
    t.equal(secret.usageType, 'iscsi');
    t.equal(secret.usageId, target);
    await secret.setValue(value);
    const back = await secret.getValue();
    t.ok(Buffer.isBuffer(back));
    t.ok(back.equals(Buffer.from(value)), 'string value reads back as its UTF-8 bytes');
    const binary = registerSecret('daemon/20 secret value (64 binary bytes)', randomBytes(64));
    await secret.setValue(binary);
    t.ok((await secret.getValue()).equals(binary), 'binary value reads back byte-equal');

    const byUsage = await conn.lookupSecretByUsage('iscsi', target);
    t.ok(byUsage.equals(secret));
    t.ok((await conn.lookupSecretByUUID(secret.uuid)).equals(secret));
    const all = await conn.listAllSecrets();
    t.ok(all.some((s) => s.equals(secret)));
    const noEphemeral = await conn.listAllSecrets(ConnectListAllSecretsFlags.VIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL);
    t.ok(noEphemeral.some((s) => s.equals(secret)));
    const ephemeral = await conn.listAllSecrets(ConnectListAllSecretsFlags.VIR_CONNECT_LIST_SECRETS_EPHEMERAL);
    t.notOk(ephemeral.some((s) => s.equals(secret)));

    for (const shown of [inspect(secret), JSON.stringify(secret), inspect(await secret.describe()), await secret.getXML()])
      t.notMatch(shown, value, 'the value is not shown');
    t.same(JSON.parse(JSON.stringify(secret)), { uuid: secret.uuid, usageType: 'iscsi', usageId: target });

    await secret.undefine();
    t.equal(await codeOf(conn.lookupSecretByUsage('iscsi', target)), 'VIR_ERR_NO_SECRET');
    t.equal(await codeOf(secret.getValue()), 'VIR_ERR_NO_SECRET');
  });

  t.test('a private secret\'s value cannot be read back', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const value = registerSecret('daemon/20 secret value (16 binary bytes)', randomBytes(16));
    const secret = await conn.defineSecret({ private: true, usage: { type: 'ceph', name: `client.virtkit-${randomUUID()}` } });
    await secret.setValue(value);
    const err = await secret.getValue().catch((e: unknown) => e);
    t.ok(err instanceof LibvirtError);
    t.equal((err as LibvirtError).codeName, 'VIR_ERR_INVALID_SECRET');
    t.notMatch((err as LibvirtError).message, value.toString('hex'));
    await secret.undefine();
  });

  t.test('bad definitions are typed errors and change nothing', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const before = (await conn.listAllSecrets()).map((s) => s.uuid).sort();
    const target = `dup-${randomUUID()}`;
    const first = await conn.defineSecret({ usage: { type: 'iscsi', target } });
    t.equal(await codeOf(conn.defineSecret({ uuid: randomUUID(), usage: { type: 'iscsi', target } })), 'VIR_ERR_INTERNAL_ERROR', 'a second secret for the same usage');
    t.equal(await codeOf(conn.defineSecret('<secret><usage type="iscsi">')), 'VIR_ERR_XML_DETAIL', 'malformed XML');
    t.equal(await codeOf(conn.defineSecret("<secret><uuid>not-a-uuid</uuid></secret>")), 'VIR_ERR_INTERNAL_ERROR', 'bad UUID');
    await first.undefine();
    t.same((await conn.listAllSecrets()).map((s) => s.uuid).sort(), before, 'the daemon holds what it held before');

    t.type(await conn.defineSecret(42 as never).catch((e: unknown) => e), TypeError);
    t.type(await conn.lookupSecretByUsage('nfs' as never, 'x').catch((e: unknown) => e), TypeError);
    t.type(await conn.lookupSecretByUsage('toString' as never, 'x').catch((e: unknown) => e), TypeError);
    t.type(await conn.lookupSecretByUsage('none' as never, 'x').catch((e: unknown) => e), TypeError);
    t.type(await conn.lookupSecretByUsage('iscsi', 5 as never).catch((e: unknown) => e), TypeError);
    t.type(await first.setValue(12 as never).catch((e: unknown) => e), TypeError);
    t.type(await first.setValue([1, 2] as never).catch((e: unknown) => e), TypeError);
    first.free();
    t.equal(await codeOf(first.getXML()), 'VIR_ERR_INVALID_SECRET', 'freed handle');
  });
}
