// The provisioning helpers' argument checks with a real Connection (libvirt's test driver):
// a wrong type is a TypeError before libvirt or the network is touched, so the driver's lists
// (pools, domains; it has no secrets driver) are unchanged afterwards.
import t from 'tap';
import {
  connect, defineGuest, provisionIscsiPool, provisionMultipathPool, provisionRbdPool, teardownGuest, teardownPool, type Connection,
} from 'virtkit';
import { registerSecret } from '../helpers';

const lists = async (conn: Connection) => ({
  pools: (await conn.listAllStoragePools()).map((p) => p.uuid).sort(),
  domains: (await conn.listAllDomains()).map((d) => d.uuid).sort(),
});

const iscsi = {
  type: 'iscsi-direct', name: 'p1', portal: '127.0.0.1:3260', target: 'iqn.2026-11.org.example:t', initiatorIqn: 'iqn.2026-11.org.example:i',
  chap: { username: 'u', password: registerSecret('driver/90 CHAP password', 'secret-password-1') },
};
const rbd = { name: 'r1', monitors: ['127.0.0.1'], pool: 'rbd', cephUser: 'libvirt', cephKey: Buffer.alloc(28, 1).toString('base64') };

t.test('wrong argument types: TypeError, nothing touched', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const before = await lists(conn);
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['conn', () => provisionIscsiPool({} as never, iscsi as never)],
    ['iscsi options', () => provisionIscsiPool(conn, undefined as never)],
    ['iscsi type', () => provisionIscsiPool(conn, { ...iscsi, type: 'fc' } as never)],
    ['iscsi chap', () => provisionIscsiPool(conn, { ...iscsi, chap: 'u:p' } as never)],
    ['iscsi portal', () => provisionIscsiPool(conn, { ...iscsi, portal: 3260 } as never)],
    ['rbd key', () => provisionRbdPool(conn, { ...rbd, cephKey: 'not a key' })],
    ['rbd monitors', () => provisionRbdPool(conn, { ...rbd, monitors: '127.0.0.1' } as never)],
    ['mpath name', () => provisionMultipathPool(conn, { name: 42 } as never)],
    ['guest memory', () => defineGuest(conn, { name: 'g', memoryMiB: '64', vcpus: 1, disks: [] } as never)],
    ['guest disks', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [{ volume: 'v' }] } as never)],
    ['teardownPool options', () => teardownPool(conn, 'default-pool', { guests: 'yes' } as never)],
    ['teardownGuest name', () => teardownGuest(conn, 7 as never)],
  ];
  for (const [what, call] of cases) {
    const err = await call().then(() => null, (e: unknown) => e);
    t.type(err, TypeError, what);
    t.notMatch(String((err as Error)?.message), 'secret-password-1', `${what}: no password in the message`);
  }
  t.same(await lists(conn), before, 'the test driver holds what it held');
});
