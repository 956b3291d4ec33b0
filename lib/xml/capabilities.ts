/**
 * Typed host capabilities (`virConnectGetCapabilities`). Read-only: libvirt never takes this
 * document as input, so there is no builder.
 *
 * @see https://libvirt.org/formatcaps.html
 */
import { attr, child, childText, children, intOr, parseTree, root, text, type XmlElement } from './tree';

export interface CapsCpuTopology {
  sockets: number;
  dies?: number;
  clusters?: number;
  cores: number;
  threads: number;
}

export interface CapsHostCpu {
  arch: string;
  model?: string;
  vendor?: string;
  /** Feature names from `<features>` (e.g. `pae`) and `<feature name=…>`. */
  features: string[];
  topology?: CapsCpuTopology;
  /** Supported page sizes in KiB. */
  pageSizesKiB: number[];
}

export interface CapsNumaCpu {
  id: number;
  socketId?: number;
  dieId?: number;
  coreId?: number;
  siblings?: string;
}

export interface CapsNumaCell {
  id: number;
  /** Cell memory in KiB. */
  memoryKiB?: number;
  cpus: CapsNumaCpu[];
}

export interface CapsSecModel {
  model: string;
  doi: string;
}

export interface CapsHost {
  uuid?: string;
  cpu: CapsHostCpu;
  /** `suspend_mem`, `suspend_disk`, `suspend_hybrid` where supported. */
  powerManagement: string[];
  iommu?: boolean;
  migrationTransports: string[];
  cells: CapsNumaCell[];
  secModels: CapsSecModel[];
}

export interface CapsMachine {
  name: string;
  canonical?: string;
  maxCpus?: number;
}

export interface CapsGuestDomain {
  /** Domain type: `kvm`, `qemu`, `test`, … */
  type: string;
  emulator?: string;
  machines: CapsMachine[];
}

export interface CapsGuest {
  /** `hvm`, `xen`, `exe`, … */
  osType: string;
  arch: string;
  wordSize?: number;
  emulator?: string;
  loader?: string;
  machines: CapsMachine[];
  domains: CapsGuestDomain[];
  features: string[];
}

export interface Capabilities {
  host: CapsHost;
  guests: CapsGuest[];
}

function featureNames(el: XmlElement | undefined): string[] {
  if (!el) return [];
  return Object.keys(el).filter((k) => k !== '$' && k !== '#text');
}

function machines(el: XmlElement): CapsMachine[] {
  return children(el, 'machine').map((m) => {
    const out: CapsMachine = { name: text(m) ?? '' };
    const canonical = attr(m, 'canonical');
    if (canonical !== undefined) out.canonical = canonical;
    const maxCpus = intOr(attr(m, 'maxCpus'), undefined);
    if (maxCpus !== undefined) out.maxCpus = maxCpus;
    return out;
  });
}

function optional<T extends object, K extends string, V>(o: T, key: K, v: V | undefined): T {
  if (v !== undefined) (o as Record<string, unknown>)[key] = v;
  return o;
}

/** Parses `virConnectGetCapabilities` output. */
export function parseCapabilitiesXml(xml: string): Capabilities {
  const caps = root(parseTree(xml, 'capabilities XML'), 'capabilities', 'capabilities XML');
  const host = child(caps, 'host');
  const cpu = child(host, 'cpu');
  const topo = child(cpu, 'topology');
  const hostCpu: CapsHostCpu = {
    arch: childText(cpu, 'arch') ?? '',
    features: [...featureNames(child(cpu, 'features')), ...children(cpu, 'feature').map((f) => attr(f, 'name') ?? '')],
    pageSizesKiB: children(cpu, 'pages').map((p) => intOr(attr(p, 'size'), 0)),
  };
  optional(hostCpu, 'model', childText(cpu, 'model'));
  optional(hostCpu, 'vendor', childText(cpu, 'vendor'));
  if (topo) {
    const t: CapsCpuTopology = {
      sockets: intOr(attr(topo, 'sockets'), 1),
      cores: intOr(attr(topo, 'cores'), 1),
      threads: intOr(attr(topo, 'threads'), 1),
    };
    optional(t, 'dies', intOr(attr(topo, 'dies'), undefined));
    optional(t, 'clusters', intOr(attr(topo, 'clusters'), undefined));
    hostCpu.topology = t;
  }
  const iommu = attr(child(host, 'iommu'), 'support');
  const capsHost: CapsHost = {
    cpu: hostCpu,
    powerManagement: featureNames(child(host, 'power_management')),
    migrationTransports: children(child(child(host, 'migration_features'), 'uri_transports'), 'uri_transport').map(
      (u) => text(u) ?? '',
    ),
    cells: children(child(child(host, 'topology'), 'cells'), 'cell').map((c) => {
      const cell: CapsNumaCell = {
        id: intOr(attr(c, 'id'), 0),
        cpus: children(child(c, 'cpus'), 'cpu').map((p) => {
          const out: CapsNumaCpu = { id: intOr(attr(p, 'id'), 0) };
          optional(out, 'socketId', intOr(attr(p, 'socket_id'), undefined));
          optional(out, 'dieId', intOr(attr(p, 'die_id'), undefined));
          optional(out, 'coreId', intOr(attr(p, 'core_id'), undefined));
          optional(out, 'siblings', attr(p, 'siblings'));
          return out;
        }),
      };
      return optional(cell, 'memoryKiB', intOr(childText(c, 'memory'), undefined));
    }),
    secModels: children(host, 'secmodel').map((s) => ({ model: childText(s, 'model') ?? '', doi: childText(s, 'doi') ?? '' })),
  };
  optional(capsHost, 'uuid', childText(host, 'uuid'));
  if (iommu !== undefined) capsHost.iommu = iommu === 'yes';

  const guests = children(caps, 'guest').map((g) => {
    const arch = child(g, 'arch');
    const guest: CapsGuest = {
      osType: childText(g, 'os_type') ?? '',
      arch: attr(arch, 'name') ?? '',
      machines: arch ? machines(arch) : [],
      domains: children(arch, 'domain').map((d) => {
        const dom: CapsGuestDomain = { type: attr(d, 'type') ?? '', machines: machines(d) };
        return optional(dom, 'emulator', childText(d, 'emulator'));
      }),
      features: featureNames(child(g, 'features')),
    };
    optional(guest, 'wordSize', intOr(childText(arch, 'wordsize'), undefined));
    optional(guest, 'emulator', childText(arch, 'emulator'));
    optional(guest, 'loader', childText(arch, 'loader'));
    return guest;
  });
  return { host: capsHost, guests };
}
