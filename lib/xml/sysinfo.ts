/**
 * Typed host SMBIOS data (`virConnectGetSysinfo`).
 *
 * @see https://libvirt.org/formatdomain.html#smbios-system-information
 */
import { childElements, firstChild, parseRoot, textOf, type XElement } from './ordered';

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

function entries(el: XElement): SysinfoEntries {
  const out: SysinfoEntries = {};
  for (const e of childElements(el, 'entry')) {
    const name = e.attrs.name;
    if (name !== undefined) out[name] = textOf(e) ?? '';
  }
  return out;
}

/** Parses `virConnectGetSysinfo` output. */
export function parseSysinfoXml(xml: string): Sysinfo {
  const si = parseRoot(xml, 'sysinfo', 'sysinfo XML');
  const one = (name: string) => {
    const el = firstChild(si, name);
    return el ? entries(el) : undefined;
  };
  const out: Sysinfo = {
    type: si.attrs.type ?? '',
    baseBoards: childElements(si, 'baseBoard').map(entries),
    processors: childElements(si, 'processor').map(entries),
    memoryDevices: childElements(si, 'memory_device').map(entries),
    oemStrings: childElements(firstChild(si, 'oemStrings'), 'entry').map((e) => textOf(e) ?? ''),
  };
  const bios = one('bios');
  if (bios) out.bios = bios;
  const system = one('system');
  if (system) out.system = system;
  const chassis = one('chassis');
  if (chassis) out.chassis = chassis;
  return out;
}
