// Volumes on the private libvirtd, in a dir pool: create raw and qcow2, look up, clone,
// resize, wipe, delete; upload a file and download it back byte-equal as Node streams.
import t from 'tap';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, Connection, LibvirtError, StorageVolume, StorageVolWipeAlgorithm, VolumeReadable } from 'virtkit';
import { daemonUri, tempDir } from '../helpers';

const target = daemonUri();
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof LibvirtError ? e.codeName : String(e);
};
const volXml = (name: string, bytes: number, format = 'raw') =>
  `<volume><name>${name}</name><capacity unit='bytes'>${bytes}</capacity><target><format type='${format}'/></target></volume>`;

/** A transient dir pool in a fresh temp directory, destroyed when the test ends. */
async function tempDirPool(t: { teardown: (fn: () => unknown) => void }, conn: Connection, prefix: string) {
  const dir = tempDir(t, prefix);
  const pool = await conn.createStoragePool({ type: 'dir', name: `${prefix}-${randomUUID().slice(0, 8)}`, target: { path: dir } });
  t.teardown(() => pool.destroy().catch(() => undefined));
  return { dir, pool };
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

if ('skip' in target) {
  t.test('volumes on the daemon', { skip: target.skip }, async () => {});
} else {
  const { uri } = target;

  t.test('volumes in a dir pool', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-vols');

    const raw = await pool.createVolume(volXml('disk.raw', 8 * MiB));
    t.ok(raw instanceof StorageVolume);
    t.equal(raw.name, 'disk.raw');
    t.equal(await raw.path(), path.join(dir, 'disk.raw'));
    t.equal(fs.statSync(path.join(dir, 'disk.raw')).size, 8 * MiB, 'the file exists with its capacity');
    t.match(await raw.info(), { typeName: 'file', capacity: 8 * MiB });
    const qcow = await pool.createVolume(volXml('disk.qcow2', 64 * MiB, 'qcow2'));
    t.match(await qcow.getXML(), /<format type='qcow2'\/>/);
    t.equal((await qcow.info()).capacity, 64 * MiB);
    t.ok((await qcow.info()).allocation < 64 * MiB, 'qcow2 allocates lazily');

    t.ok((await pool.lookupVolumeByName('disk.raw')).equals(raw));
    t.ok((await conn.lookupStorageVolumeByKey(raw.key)).equals(raw));
    t.ok((await conn.lookupStorageVolumeByPath(path.join(dir, 'disk.qcow2'))).equals(qcow));
    t.equal(await codeOf(pool.lookupVolumeByName('nope')), 'VIR_ERR_NO_STORAGE_VOL');
    t.equal(await codeOf(pool.createVolume(volXml('disk.raw', MiB))), 'VIR_ERR_STORAGE_VOL_EXIST', 'a duplicate name');

    // Upload a pattern, download it back, compare with the file on disk too.
    const data = randomBytes(3 * MiB + 12345);
    const up = raw.upload({ length: data.length, chunkSize: 128 * 1024 });
    let progressed = 0;
    up.on('progress', (p: { bytes: number }) => (progressed = p.bytes));
    await pipeline(Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), up);
    t.equal(progressed, data.length, 'progress reached the full size');
    t.equal(up.bytes, data.length);
    const onDisk = fs.readFileSync(path.join(dir, 'disk.raw')).subarray(0, data.length);
    t.equal(sha(onDisk), sha(data), 'the file holds what was uploaded');
    const down = raw.download({ length: data.length });
    t.ok(down instanceof VolumeReadable);
    const back = await collect(down);
    t.equal(back.length, data.length);
    t.equal(sha(back), sha(data), 'downloaded byte-equal');
    const part = await collect(raw.download({ offset: MiB, length: 1000 }));
    t.ok(part.equals(data.subarray(MiB, MiB + 1000)), 'offset and length');

    // Clone, then change the original: the clone keeps the old content.
    const clone = await pool.cloneVolume(volXml('clone.raw', 8 * MiB), raw);
    t.equal(sha(fs.readFileSync(path.join(dir, 'clone.raw')).subarray(0, data.length)), sha(data), 'the clone has the data');
    await raw.resize(16 * MiB);
    t.equal((await raw.info()).capacity, 16 * MiB, 'resized');
    t.equal(fs.statSync(path.join(dir, 'disk.raw')).size, 16 * MiB);
    await raw.wipe();
    t.ok(fs.readFileSync(path.join(dir, 'disk.raw')).subarray(0, data.length).equals(Buffer.alloc(data.length)), 'wiped to zeroes');
    await clone.wipe(StorageVolWipeAlgorithm.VIR_STORAGE_VOL_WIPE_ALG_RANDOM);
    t.not(sha(fs.readFileSync(path.join(dir, 'clone.raw')).subarray(0, data.length)), sha(data), 'random wipe changed the clone');

    for (const v of [raw, qcow, clone]) await v.delete();
    t.same(fs.readdirSync(dir), [], 'the files are gone');
    t.equal(await codeOf(raw.info()), 'VIR_ERR_NO_STORAGE_VOL');
  });

  t.test('a download aborted through its AbortSignal', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-abort');
    const vol = await pool.createVolume(volXml('big.raw', 32 * MiB));
    const ac = new AbortController();
    const down = vol.download({ signal: ac.signal, chunkSize: 64 * 1024 });
    let got = 0;
    const err = await pipeline(
      down,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          got += chunk.length;
          if (got >= MiB) ac.abort();
          cb();
        },
      }),
    ).catch((e: unknown) => e);
    t.equal((err as Error).name, 'AbortError');
    t.ok(got >= MiB && got < 32 * MiB, `stopped early (${got} bytes)`);
    // The volume is usable afterwards: the aborted stream released it.
    t.equal((await collect(vol.download({ length: 4096 }))).length, 4096);
    await vol.delete();
  });

  t.test('bad transfer arguments are TypeErrors', async (t) => {
    const conn = await connect(uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-args');
    const vol = await pool.createVolume(volXml('x.raw', MiB));
    t.throws(() => vol.download({ offset: -1 }), TypeError);
    t.throws(() => vol.upload({ length: 1.5 }), TypeError);
    t.throws(() => vol.download({ chunkSize: 0 }), TypeError);
    t.throws(() => vol.download({ signal: {} as never }), TypeError);
    t.type(await vol.resize(-5).catch((e: unknown) => e), TypeError);
    t.type(await vol.wipe(999 as never).catch((e: unknown) => e), TypeError);
    t.type(await pool.cloneVolume(volXml('y.raw', MiB), {} as never).catch((e: unknown) => e), TypeError);
    await vol.delete();
  });
}

if (!('skip' in target)) {
  t.test('listVolumesWithInfo agrees with per-volume calls on the daemon', async (t) => {
    const conn = await connect(target.uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-bulk');
    await Promise.all(Array.from({ length: 20 }, (_, i) => pool.createVolume(volXml(`v${i}.raw`, (i + 1) * 4096))));
    const bulk = await pool.listVolumesWithInfo();
    t.equal(bulk.length, 20);
    for (const row of bulk) {
      t.same(row.info, await row.volume.info());
      t.equal(row.path, path.join(dir, row.volume.name));
      t.equal(row.info.capacity, (Number(/^v(\d+)\.raw$/.exec(row.volume.name)![1]) + 1) * 4096);
    }
    await Promise.all(bulk.map((b) => b.volume.delete()));
  });
}

if (!('skip' in target)) {
  t.test('sparse downloads: holes are not sent, and stay holes in a file', async (t) => {
    const conn = await connect(target.uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-sparse');
    // allocation 0: a sparse file (without it, libvirt allocates the whole capacity).
    const vol = await pool.createVolume({ name: 'sparse.raw', capacity: 64 * MiB, allocation: 0, target: { format: 'raw' } });
    t.ok(fs.statSync(path.join(dir, 'sparse.raw')).blocks * 512 < MiB, 'the volume starts sparse');
    const a = randomBytes(MiB);
    const b = randomBytes(MiB);
    await pipeline(Readable.from([a]), vol.upload({ offset: 0, length: MiB }));
    await pipeline(Readable.from([b]), vol.upload({ offset: 32 * MiB, length: MiB }));
    const expected = Buffer.alloc(64 * MiB);
    a.copy(expected, 0);
    b.copy(expected, 32 * MiB);

    const down = vol.download({ sparse: true });
    const holes: Array<{ offset: number; length: number }> = [];
    down.on('hole', (h: { offset: number; length: number }) => holes.push(h));
    const streamed = await collect(down);
    t.equal(streamed.length, 64 * MiB);
    t.equal(sha(streamed), sha(expected), 'the sparse byte stream equals the volume');
    t.ok(holes.length >= 2, `holes reported (${holes.length})`);
    t.ok(holes.reduce((n, h) => n + h.length, 0) >= 60 * MiB, 'most of the volume came as holes');

    const file = path.join(tempDir(t, 'virtkit-sparse-out'), 'out.raw');
    t.equal(await vol.downloadToFile(file, { sparse: true }), 64 * MiB);
    const st = fs.statSync(file);
    t.equal(st.size, 64 * MiB);
    t.ok(st.blocks * 512 < 16 * MiB, `the file is sparse (${st.blocks * 512} bytes allocated)`);
    t.equal(sha(fs.readFileSync(file)), sha(expected), 'and holds the same bytes');
    t.equal(await vol.downloadToFile(file), 64 * MiB, 'a dense download too');
    t.equal(sha(fs.readFileSync(file)), sha(expected));
    t.type(await vol.downloadToFile(file, { sparse: 'yes' as never }).catch((e: unknown) => e), TypeError);
    await vol.delete();
  });
}

if (!('skip' in target)) {
  t.test('sparse uploads: zero chunks go as holes and the volume stays sparse', async (t) => {
    const conn = await connect(target.uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-spup');
    const vol = await pool.createVolume({ name: 'up.raw', capacity: 64 * MiB, allocation: 0, target: { format: 'raw' } });
    const image = Buffer.alloc(64 * MiB);
    randomBytes(MiB).copy(image, 5 * MiB);
    randomBytes(MiB).copy(image, 40 * MiB);
    const up = vol.upload({ sparse: true, length: image.length, chunkSize: MiB });
    await pipeline(Readable.from((function* () { for (let o = 0; o < image.length; o += MiB) yield image.subarray(o, o + MiB); })()), up);
    t.equal(up.bytes, image.length);
    const file = path.join(dir, 'up.raw');
    t.equal(sha(fs.readFileSync(file)), sha(image), 'the volume holds the image');
    t.ok(fs.statSync(file).blocks * 512 < 16 * MiB, `and stays sparse (${fs.statSync(file).blocks * 512} bytes allocated)`);
    await vol.delete();
  });
}

if (!('skip' in target)) {
  t.test('uploadFromFile, dense and sparse', async (t) => {
    const conn = await connect(target.uri);
    t.teardown(() => conn.close());
    const { dir, pool } = await tempDirPool(t, conn, 'vk-upfile');
    const image = Buffer.alloc(24 * MiB);
    randomBytes(3 * MiB + 7).copy(image, 2 * MiB);
    const src = path.join(tempDir(t, 'virtkit-src'), 'image.raw');
    fs.writeFileSync(src, image);
    for (const sparse of [false, true]) {
      const vol = await pool.createVolume({ name: `f-${sparse}.raw`, capacity: 24 * MiB, allocation: 0, target: { format: 'raw' } });
      t.equal(await vol.uploadFromFile(src, { sparse }), image.length);
      const file = path.join(dir, `f-${sparse}.raw`);
      t.equal(sha(fs.readFileSync(file)), sha(image), `sparse=${sparse}: byte-equal`);
      if (sparse) t.ok(fs.statSync(file).blocks * 512 < 8 * MiB, 'sparse upload left holes');
      await vol.delete();
    }
    const vol = await pool.createVolume(volXml('x.raw', MiB));
    t.type(await vol.uploadFromFile(3 as never).catch((e: unknown) => e), TypeError);
    t.equal((await vol.uploadFromFile('/nonexistent/virtkit-file').catch((e: NodeJS.ErrnoException) => e.code)), 'ENOENT');
    await vol.delete();
  });
}
