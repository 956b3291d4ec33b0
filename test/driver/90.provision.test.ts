// The provisioning helpers' argument checks with a real Connection (libvirt's test driver):
// a wrong type is a TypeError before libvirt or the network is touched, so the driver's lists
// (pools, domains; it has no secrets driver) are unchanged afterwards.
import t from 'tap';
import {
  connect, defineGuest, ProvisionError, provisionIscsiPool, provisionMultipathPool, provisionRbdPool, teardownGuest, teardownPool, type Connection,
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
const rbd = { name: 'r1', monitors: ['127.0.0.1'], pool: 'rbd', cephUser: 'libvirt', cephKey: registerSecret('driver/90 Ceph key', Buffer.alloc(28, 1).toString('base64')) };

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
    ['guest disk path not absolute', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [{ path: 'images/a.img' }] })],
    ['guest cdrom not absolute', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], cdrom: 'a.iso' })],
    ['guest network type', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], network: 7 } as never)],
    ['guest network bridge type', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], network: { bridge: 5 } } as never)],
    ['guest network unknown key', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], network: { user: true, vlan: 5 } } as never)],
    ['guest network two kinds', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], network: { network: 'default', bridge: 'br0' } } as never)],
    ['guest network mac', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], network: { user: true, mac: 'nope' } })],
    ['guest network user', () => defineGuest(conn, { name: 'g', memoryMiB: 64, vcpus: 1, disks: [], network: { user: 'yes' } } as never)],
    ['iscsi:// portal in capitals', () => provisionIscsiPool(conn, { ...iscsi, portal: 'ISCSI://u%secret-password-1@127.0.0.1/iqn.2026-11.org.example:t' } as never)],
    ['iscsi:// portal after blanks', () => provisionIscsiPool(conn, { ...iscsi, portal: '  iscsi://u%secret-password-1@127.0.0.1' } as never)],
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

t.test('memory and vCPUs out of range: RangeError before libvirt is asked anything (the missing volume is not even looked up)', async (t) => {
  const conn = await connect('test:///default');
  t.teardown(() => conn.close());
  const before = await lists(conn);
  const guest = { name: 'g', memoryMiB: 64, vcpus: 1, disks: [{ pool: 'default-pool', volume: 'no-such-volume' }] };
  for (const [what, change] of [
    ['no memory', { memoryMiB: 0 }],
    ['memory beyond any host', { memoryMiB: 2 ** 40 }],
    ['no vCPU', { vcpus: 0 }],
    ['vCPUs beyond libvirt', { vcpus: 100_000 }],
  ] as const) {
    const err = await defineGuest(conn, { ...guest, ...change }).then(() => null, (e: unknown) => e);
    t.type(err, RangeError, what);
  }
  t.type(await defineGuest(conn, guest).then(() => null, (e: unknown) => e), ProvisionError, 'in range, the volume lookup is what fails');
  t.same(await lists(conn), before);
});
