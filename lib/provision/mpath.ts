/**
 * `provisionMultipathPool`: the host's device-mapper multipath devices as a libvirt pool.
 *
 * @see https://libvirt.org/storage.html#multipath-pool
 */
import type { Connection } from '../connection';
import type { StoragePool } from '../storage-pool';
import type { MpathPool, StoragePoolDefinition } from '../xml/pool';
import { boolArg, connArg, nameArg, objectArg, pathArg, provisionCall, provisionPool, type PoolVolume } from './steps';

/** Options of {@link provisionMultipathPool}. */
export interface MultipathPoolOptions {
  name: string;
  /** Where the multipath devices are (default `/dev/mapper`). */
  targetPath?: string;
  /** Start the pool with libvirtd (default true). */
  autostart?: boolean;
}

/** What {@link provisionMultipathPool} resolves to. */
export interface ProvisionedMultipathPool {
  pool: StoragePool;
  /** The multipath devices, as volumes. */
  volumes: PoolVolume[];
  actions: string[];
}

/** `<pool type='mpath'><target><path>`: what {@link provisionMultipathPool} defines. */
export function multipathPoolDefinition(options: MultipathPoolOptions): MpathPool {
  const o = objectArg(options, 'options');
  const name = nameArg(o.name, 'options.name');
  const path = o.targetPath === undefined ? '/dev/mapper' : pathArg(o.targetPath, 'options.targetPath');
  return { type: 'mpath', name, target: { path } };
}

const describe = (def: StoragePoolDefinition) => `${def.type} pool${def.target?.path ? ` on ${def.target.path}` : ''}`;

/**
 * Provisions a multipath pool, idempotently: defined (or its target path updated when a
 * `mpath` pool of that name exists; another type is a `conflict`), started, autostart set;
 * resolves to the pool and its devices. Rolls back what it did on failure.
 */
export async function provisionMultipathPool(conn: Connection, options: MultipathPoolOptions): Promise<ProvisionedMultipathPool> {
  connArg(conn);
  const def = multipathPoolDefinition(options);
  const autostart = boolArg(options.autostart, 'options.autostart') ?? true;
  return provisionCall(def.name, async (journal) => {
    const { pool, volumes } = await provisionPool(conn, journal, {
      pool: {
        definition: def,
        describe,
        sameStorage: (e) => e.type === 'mpath',
        apply: (e) => {
          e.target = { ...e.target, path: def.target!.path! };
        },
      },
      autostart,
    });
    return { pool, volumes, actions: [...journal.actions] };
  });
}
