/**
 * Typed host SMBIOS data (`virConnectGetSysinfo`).
 *
 * @see https://libvirt.org/formatdomain.html#smbios-system-information
 */
import { attr, children, parseTree, root, text, type XmlElement } from './tree';

/** One SMBIOS block as name → value (`vendor`, `version`, `serial`, …). */
export type SysinfoEntries = Record<string, string>;

export interface Sysinfo {
  /** `smbios` on x86 hosts. */
  type: string;
  bios?: SysinfoEntries;
  system?: SysinfoEntries;
  baseBoards: SysinfoEntries[];
  chassis?: SysinfoEntries;
  processors: SysinfoEntries[];
  memoryDevices: SysinfoEntries[];
  oemStrings: string[];
}

function entries(el: XmlElement): SysinfoEntries {
  const out: SysinfoEntries = {};
  for (const e of children(el, 'entry')) {
    const name = attr(e, 'name');
    if (name !== undefined) out[name] = text(e) ?? '';
  }
  return out;
}

/** Parses `virConnectGetSysinfo` output. */
export function parseSysinfoXml(xml: string): Sysinfo {
  const si = root(parseTree(xml, 'sysinfo XML'), 'sysinfo', 'sysinfo XML');
  const one = (name: string) => {
    const el = children(si, name)[0];
    return el ? entries(el) : undefined;
  };
  const out: Sysinfo = {
    type: attr(si, 'type') ?? '',
    baseBoards: children(si, 'baseBoard').map(entries),
    processors: children(si, 'processor').map(entries),
    memoryDevices: children(si, 'memory_device').map(entries),
    oemStrings: children(children(si, 'oemStrings')[0], 'entry').map((e) => text(e) ?? ''),
  };
  const bios = one('bios');
  if (bios) out.bios = bios;
  const system = one('system');
  if (system) out.system = system;
  const chassis = one('chassis');
  if (chassis) out.chassis = chassis;
  return out;
}
