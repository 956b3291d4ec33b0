/**
 * Quick start: host facts, storage pools with their volumes, and domains with their state.
 *
 *   npm run demo                      # libvirt's built-in test driver (test:///default)
 *   npm run demo -- --uri qemu:///system
 *   LIBVIRT_DEFAULT_URI=qemu:///system npm run demo
 */
import { connect, formatVersion, LibvirtError } from 'virtkit';
import { bytes, option, table } from './table';

async function main(): Promise<void> {
  const conn = await connect(option('uri'));
  try {
    const [hostname, type, version, libVersion, node, caps] = await Promise.all([
      conn.hostname(),
      conn.type(),
      conn.version(),
      conn.libVersion(),
      conn.nodeInfo(),
      conn.capabilities(),
    ]);
    console.log(`Connected to ${conn.uri}\n`);
    console.log(
      table(
        ['host', 'driver', 'hypervisor', 'libvirt', 'arch', 'cpus', 'memory'],
        [[hostname, type, formatVersion(version), formatVersion(libVersion), node.model, node.cpus, bytes(node.memoryKiB * 1024)]],
      ),
    );
    const guestTypes = caps.guests.map((g) => `${g.arch}/${g.osType} (${g.domains.map((d) => d.type).join(', ')})`);
    console.log(`\nGuests this host can run: ${guestTypes.join('; ')}\n`);

    const pools = await conn.listAllStoragePools();
    const poolRows: Array<Array<string | number>> = [];
    for (const pool of pools) {
      const info = await pool.info();
      const volumes = info.stateName === 'running' ? await pool.listVolumes() : [];
      poolRows.push([pool.name, info.stateName, bytes(info.capacity), bytes(info.available), volumes.length]);
      for (const vol of volumes) {
        const [v, path] = await Promise.all([vol.info(), vol.path()]);
        poolRows.push([`  └ ${vol.name}`, v.typeName, bytes(v.capacity), bytes(v.allocation), path]);
      }
    }
    console.log('Storage pools and volumes');
    console.log(table(['name', 'state/type', 'capacity', 'available/allocated', 'volumes/path'], poolRows));

    const domains = await conn.listAllDomains();
    const domainRows = await Promise.all(
      domains.map(async (d) => {
        const info = await d.info();
        return [d.name, d.id ?? '-', info.stateName, info.vcpus, bytes(info.memoryKiB * 1024), d.uuid];
      }),
    );
    console.log('\nDomains');
    console.log(table(['name', 'id', 'state', 'vcpus', 'memory', 'uuid'], domainRows));
  } finally {
    await conn.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof LibvirtError) console.error(`libvirt error ${err.codeName} (${err.domainName}): ${err.message}`);
  else console.error(err);
  process.exitCode = 1;
});
