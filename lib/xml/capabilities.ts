/**
 * Typed host capabilities (`virConnectGetCapabilities`). Read-only: libvirt never takes this
 * document as input, so there is no builder.
 *
 * @see https://libvirt.org/formatcaps.html
 */
import { assign, numberOr } from './common';
import { childElements, firstChild, parseRoot, textOf, type XElement } from './ordered';

const attr = (el: XElement | undefined, name: string): string | undefined => el?.attrs[name];
const childText = (el: XElement | undefined, name: string): string | undefined => textOf(firstChild(el, name));

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

function featureNames(el: XElement | undefined): string[] {
  return childElements(el).map((c) => c.name);
}

function machines(el: XElement): CapsMachine[] {
  return childElements(el, 'machine').map((m) => {
    const out: CapsMachine = { name: textOf(m) ?? '' };
    const canonical = attr(m, 'canonical');
    if (canonical !== undefined) out.canonical = canonical;
    const maxCpus = numberOr(attr(m, 'maxCpus'), undefined);
    if (maxCpus !== undefined) out.maxCpus = maxCpus;
    return out;
  });
}

/** Parses `virConnectGetCapabilities` output. */
export function parseCapabilitiesXml(xml: string): Capabilities {
  const caps = parseRoot(xml, 'capabilities', 'capabilities XML');
  const host = firstChild(caps, 'host');
  const cpu = firstChild(host, 'cpu');
  const topo = firstChild(cpu, 'topology');
  const hostCpu: CapsHostCpu = {
    arch: childText(cpu, 'arch') ?? '',
    features: [...featureNames(firstChild(cpu, 'features')), ...childElements(cpu, 'feature').map((f) => attr(f, 'name') ?? '')],
    pageSizesKiB: childElements(cpu, 'pages').map((p) => numberOr(attr(p, 'size'), 0)),
  };
  assign(hostCpu, 'model', childText(cpu, 'model'));
  assign(hostCpu, 'vendor', childText(cpu, 'vendor'));
  if (topo) {
    const t: CapsCpuTopology = {
      sockets: numberOr(attr(topo, 'sockets'), 1),
      cores: numberOr(attr(topo, 'cores'), 1),
      threads: numberOr(attr(topo, 'threads'), 1),
    };
    assign(t, 'dies', numberOr(attr(topo, 'dies'), undefined));
    assign(t, 'clusters', numberOr(attr(topo, 'clusters'), undefined));
    hostCpu.topology = t;
  }
  const iommu = attr(firstChild(host, 'iommu'), 'support');
  const capsHost: CapsHost = {
    cpu: hostCpu,
    powerManagement: featureNames(firstChild(host, 'power_management')),
    migrationTransports: childElements(firstChild(firstChild(host, 'migration_features'), 'uri_transports'), 'uri_transport').map(
      (u) => textOf(u) ?? '',
    ),
    cells: childElements(firstChild(firstChild(host, 'topology'), 'cells'), 'cell').map((c) => {
      const cell: CapsNumaCell = {
        id: numberOr(attr(c, 'id'), 0),
        cpus: childElements(firstChild(c, 'cpus'), 'cpu').map((p) => {
          const out: CapsNumaCpu = { id: numberOr(attr(p, 'id'), 0) };
          assign(out, 'socketId', numberOr(attr(p, 'socket_id'), undefined));
          assign(out, 'dieId', numberOr(attr(p, 'die_id'), undefined));
          assign(out, 'coreId', numberOr(attr(p, 'core_id'), undefined));
          assign(out, 'siblings', attr(p, 'siblings'));
          return out;
        }),
      };
      return assign(cell, 'memoryKiB', numberOr(childText(c, 'memory'), undefined));
    }),
    secModels: childElements(host, 'secmodel').map((s) => ({ model: childText(s, 'model') ?? '', doi: childText(s, 'doi') ?? '' })),
  };
  assign(capsHost, 'uuid', childText(host, 'uuid'));
  if (iommu !== undefined) capsHost.iommu = iommu === 'yes';

  const guests = childElements(caps, 'guest').map((g) => {
    const arch = firstChild(g, 'arch');
    const guest: CapsGuest = {
      osType: childText(g, 'os_type') ?? '',
      arch: attr(arch, 'name') ?? '',
      machines: arch ? machines(arch) : [],
      domains: childElements(arch, 'domain').map((d) => {
        const dom: CapsGuestDomain = { type: attr(d, 'type') ?? '', machines: machines(d) };
        return assign(dom, 'emulator', childText(d, 'emulator'));
      }),
      features: featureNames(firstChild(g, 'features')),
    };
    assign(guest, 'wordSize', numberOr(childText(arch, 'wordsize'), undefined));
    assign(guest, 'emulator', childText(arch, 'emulator'));
    assign(guest, 'loader', childText(arch, 'loader'));
    return guest;
  });
  return { host: capsHost, guests };
}
