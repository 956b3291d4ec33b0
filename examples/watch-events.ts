/**
 * Prints storage pool, secret and guest events as they happen, one table row each.
 *
 *   npm run example -- watch-events --uri qemu:///system [--portal 10.0.0.5:3260] [--seconds 60]
 *
 * Options: --uri URI; --portal HOST[:PORT]: first list the pools on that iSCSI portal (the
 * target's address); --seconds S or --count N: stop after S seconds or N events (default: run
 * until Ctrl-C); --env FILE: the test environment's env.json (its URI and portal).
 * Events never carry a secret's value.
 */
import * as fs from 'node:fs';
import { connect, iscsi, LibvirtError, type Connection } from 'virtkit';
import { option, table } from './table';

const COLUMNS: Array<[string, number]> = [['time', 12], ['object', 6], ['name', 36], ['event', 13], ['detail', 0]];

function row(cells: string[]): string {
  return cells.map((c, i) => (COLUMNS[i]![1] ? c.padEnd(COLUMNS[i]![1]) : c)).join('  ').trimEnd();
}

async function poolsOnPortal(conn: Connection, portal: string): Promise<void> {
  const want = iscsi.parsePortal(portal);
  const rows: Array<Array<string | number>> = [];
  for (const pool of await conn.listAllStoragePools()) {
    const def = await pool.describe();
    const host = def.source?.hosts?.[0];
    if (!host || host.name !== want.host || (host.port ?? 3260) !== want.port) continue;
    rows.push([pool.name, def.type, def.source?.devices?.[0]?.path ?? '-', (await pool.info()).stateName]);
  }
  console.log(`Pools on ${want.address}`);
  console.log(rows.length ? table(['name', 'type', 'target', 'state'], rows) : '(none)');
  console.log('');
}

async function main(): Promise<void> {
  const envFile = option('env');
  let uri = option('uri');
  let portal = option('portal');
  if (envFile) {
    const env = JSON.parse(fs.readFileSync(envFile, 'utf8')) as { libvirt: { uri?: string }; iscsi: { portal?: string } };
    uri ??= env.libvirt.uri;
    portal ??= env.iscsi.portal;
  }
  const seconds = option('seconds') === undefined ? null : Number(option('seconds'));
  const count = option('count') === undefined ? null : Number(option('count'));
  const conn = await connect(uri, { events: true });
  console.log(`Connected to ${conn.uri}\n`);
  if (portal) await poolsOnPortal(conn, portal);

  let seen = 0;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const print = (object: string, name: string, event: string, detail = '') => {
    console.log(row([new Date().toISOString().slice(11, 23), object, name, event, detail]));
    if (count !== null && ++seen >= count) stop();
    else if (count === null) seen++;
  };
  conn.on('pool-lifecycle', (e) => print('pool', e.pool.name, e.eventName));
  conn.on('pool-refresh', (e) => print('pool', e.pool.name, 'refreshed'));
  conn.on('secret-lifecycle', (e) => print('secret', `${e.secret.usageType}:${e.secret.usageId}`, e.eventName));
  conn.on('secret-value-changed', (e) => print('secret', `${e.secret.usageType}:${e.secret.usageId}`, 'value-changed', '(value not shown)'));
  conn.on('domain-lifecycle', (e) => print('guest', e.domain.name, e.eventName, e.detailName));
  conn.on('domain-device-added', (e) => print('guest', e.domain.name, 'device-added', e.devAlias ?? ''));
  conn.on('domain-device-removed', (e) => print('guest', e.domain.name, 'device-removed', e.devAlias ?? ''));
  let ending = false;
  conn.on('closed', (e) => {
    if (ending) return;
    console.log(`connection closed (${e.reasonName})`);
    stop();
  });
  await conn.eventsReady();
  console.log(`Watching pool, secret and guest events${seconds !== null ? ` for ${seconds} s` : ''}${count !== null ? ` (stopping after ${count})` : ''}; Ctrl-C stops.\n`);
  console.log(row(COLUMNS.map(([h]) => h)));
  console.log(row(COLUMNS.map(([h, w]) => '-'.repeat(w || h.length))));
  const timer = seconds !== null ? setTimeout(stop, seconds * 1000) : null;
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await stopped;
  if (timer) clearTimeout(timer);
  ending = true;
  console.log(`\n${seen} event(s)`);
  await conn.close();
}

main().catch((err: unknown) => {
  if (err instanceof LibvirtError) console.error(`libvirt error ${err.codeName} (${err.domainName}): ${err.message}`);
  else console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
