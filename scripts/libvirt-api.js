// What virtkit reads from libvirt's API description (libvirt-api.xml) and from its own native
// layer, shared by scripts/gen-unbound.js, scripts/gen-constants.js (the XML path),
// test/unit/coverage.test.ts and test/unit/constants.test.ts. Plain Node, no dependencies.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const NATIVE = path.join(ROOT, 'native');
/** Where Debian's libvirt-dev installs the API XML. */
const FALLBACK_XML = '/usr/share/libvirt/api/libvirt-api.xml';

/** Trimmed output of `pkg-config ARGS...`, or '' when pkg-config fails or is missing. */
function pkgConfig(args) {
  try {
    return execFileSync('pkg-config', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/**
 * libvirt-api.xml: `pkg-config --variable=libvirt_api libvirt` if that names an existing file,
 * else FALLBACK_XML (which is returned even when it does not exist).
 */
function apiXmlPath() {
  const p = pkgConfig(['--variable=libvirt_api', 'libvirt']);
  if (p && fs.existsSync(p)) return p;
  return FALLBACK_XML;
}

/** The names of every <function> in the API XML. */
function apiFunctions(xmlPath) {
  const xml = fs.readFileSync(xmlPath, 'utf8');
  return new Set([...xml.matchAll(/<function\s+name=['"](\w+)['"]/g)].map((m) => m[1]));
}

/**
 * Whether virtkit covers the libvirt function `name` (the selection documented at the top of
 * test/unit/coverage.test.ts, which the unbound.tsv header points to; keep the two in step):
 *   - virStoragePool*, virStorageVol*, virSecret*, virStream*   storage pools, volumes, secrets, streams
 *   - virDomain*                                                 domains, including snapshots
 *                                                                (virDomainSnapshot*) and checkpoints
 *                                                                (virDomainCheckpoint*); virDomain*Interface*
 *                                                                are guest NICs and stay covered
 *   - virNode*, except the node-device API (virNodeDevice*,      host information
 *     virNodeListDevices, virNodeNumOfDevices)
 *   - virConnect*, except those about networks, host interfaces, node devices and nwfilters
 *     (names containing Network, Interface, NodeDevice or NWFilter)
 * Not covered: virNetwork*, virInterface*, virNWFilter*, the node-device API, virEvent*, the
 * error functions (virGetLastError, ...), virTypedParams* and virInitialize/virGetVersion.
 * libvirt-qemu-api.xml and libvirt-lxc-api.xml (virDomainQemu*, virDomainLxc*) are not read.
 */
function isCovered(name) {
  if (/^vir(StoragePool|StorageVol|Secret|Stream|Domain)/.test(name)) return true;
  if (name.startsWith('virNode')) {
    return !/^virNode(Device|ListDevices$|NumOfDevices$)/.test(name);
  }
  if (name.startsWith('virConnect')) return !/Network|Interface|NodeDevice|NWFilter/.test(name);
  return false;
}

/** The *.cc and *.h files below `dir`, sorted. */
function nativeSources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...nativeSources(p));
    else if (/\.(cc|h)$/.test(entry.name)) out.push(p);
  }
  return out.sort();
}

/** C++ source with comments, raw strings, string and character literals blanked out. */
function codeOnly(src) {
  return src.replace(
    /\/\/[^\n]*|\/\*[\s\S]*?\*\/|R"([^(\s]*)\([\s\S]*?\)\1"|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g,
    ' ',
  );
}

/**
 * The names in `api` (anything with has(name)) used as identifiers in the *.cc and *.h files
 * below nativeDir (default native/), outside comments and string literals: calls
 * (`virConnectClose(conn)`) and functions passed by pointer (`Bool(virConnectIsAlive)`), not a
 * name only in a documentation link or an error message. name -> the files (relative to the
 * repository root) that use it.
 */
function nativeReferences(api, nativeDir = NATIVE) {
  const where = new Map();
  for (const file of nativeSources(nativeDir)) {
    const code = codeOnly(fs.readFileSync(file, 'utf8'));
    for (const m of code.matchAll(/\bvir[A-Z][A-Za-z0-9]*\b/g)) {
      if (!api.has(m[0])) continue;
      const rel = path.relative(ROOT, file);
      const files = where.get(m[0]) ?? [];
      if (!files.includes(rel)) files.push(rel);
      where.set(m[0], files);
    }
  }
  return where;
}

module.exports = { FALLBACK_XML, pkgConfig, apiXmlPath, apiFunctions, isCovered, nativeReferences };
