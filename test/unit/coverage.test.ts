// API coverage: every libvirt function virtkit covers is either called by the native layer or
// listed, with a reason, in test/coverage/unbound.tsv (DESIGN.md, "Quality bars: Coverage").
//
// The covered functions are the <function> names in libvirt-api.xml
// (pkg-config --variable=libvirt_api libvirt) that are
//   - virStoragePool*, virStorageVol*, virSecret*, virStream*   storage pools, volumes, secrets, streams
//   - virDomain*                                                 domains, including snapshots
//                                                                (virDomainSnapshot*) and checkpoints
//                                                                (virDomainCheckpoint*); virDomain*Interface*
//                                                                are guest NICs and stay covered
//   - virNode*, except the node-device API (virNodeDevice*,      host information
//     virNodeListDevices, virNodeNumOfDevices)
//   - virConnect*, except those about networks, host interfaces, node devices and nwfilters
//     (names containing Network, Interface, NodeDevice or NWFilter)
// Not covered: virNetwork*, virInterface*, virNWFilter*, the node-device API, virEvent*, the
// error functions (virGetLastError, ...), virTypedParams* and virInitialize/virGetVersion.
// libvirt-qemu-api.xml and libvirt-lxc-api.xml (virDomainQemu*, virDomainLxc*) are not read.
//
// "Called by the native layer" means: an API function name used as an identifier in
// native/**/*.{cc,h} outside comments and string literals. This counts calls
// (`virConnectClose(conn)`) and functions passed by pointer (`Bool(virConnectIsAlive)`), but not a
// name that only appears in a documentation link or an error message.
//
// The selection is isCovered and the native scan is nativeReferences, both in
// scripts/libvirt-api.js (shared with scripts/gen-unbound.js); change this comment with them.
//
// unbound.tsv: one `virFunctionName<TAB>reason` per line; `#` starts a comment line.
// scripts/gen-unbound.js adds missing names and drops bound ones (it keeps edited reasons).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** scripts/libvirt-api.js, shared with scripts/gen-unbound.js. */
interface LibvirtApi {
  apiXmlPath(): string;
  apiFunctions(xmlPath: string): Set<string>;
  isCovered(name: string): boolean;
  /** name -> the files (relative to the repository root) that use it. */
  nativeReferences(api: Set<string>, nativeDir?: string): Map<string, string[]>;
}
// Resolved from dist/test/unit, where this test runs.
const { apiXmlPath, apiFunctions, isCovered, nativeReferences }: LibvirtApi =
  require('../../../scripts/libvirt-api.js');

const ROOT = path.resolve(__dirname, '../../..');
const UNBOUND = path.join(ROOT, 'test', 'coverage', 'unbound.tsv');

interface UnboundFile {
  entries: Map<string, string>;
  problems: string[];
}

function readUnbound(file: string): UnboundFile {
  const entries = new Map<string, string>();
  const problems: string[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      const tab = line.indexOf('\t');
      const name = (tab < 0 ? line : line.slice(0, tab)).trim();
      const reason = tab < 0 ? '' : line.slice(tab + 1).trim();
      if (!reason) {
        problems.push(`line ${i + 1}: ${name || JSON.stringify(line)} has no reason (want name<TAB>reason)`);
      }
      else if (entries.has(name)) problems.push(`line ${i + 1}: ${name} is listed twice`);
      else entries.set(name, reason);
    });
  return { entries, problems };
}

const xmlPath = apiXmlPath();
const api = apiFunctions(xmlPath);
const covered = [...api].filter(isCovered).sort();
const references = nativeReferences(api);
const { entries: listed, problems } = readUnbound(UNBOUND);

t.comment(`libvirt-api.xml: ${xmlPath}, ${api.size} functions`);
t.comment(
  `covered: ${covered.length}, bound: ${covered.filter((f) => references.has(f)).length} ` +
    `(${references.size} API functions referenced natively in all), listed: ${listed.size}`,
);

t.test('the inputs are there', async (t) => {
  t.ok(api.size > 400, `libvirt-api.xml lists functions (${api.size})`);
  t.ok(covered.length > 300, `the covered groups are not empty (${covered.length})`);
  t.ok(references.has('virConnectOpenAuth'), 'the native scan finds virConnectOpenAuth');
});

t.test('unbound.tsv lines are name<TAB>reason', async (t) => {
  t.strictSame(
    problems,
    [],
    problems.length
      ? `malformed lines in test/coverage/unbound.tsv:\n  ${problems.join('\n  ')}`
      : 'all lines well-formed',
  );
});

t.test('every covered function is bound or listed with a reason', async (t) => {
  const missing = covered.filter((f) => !references.has(f) && !listed.has(f));
  t.strictSame(
    missing,
    [],
    missing.length === 0
      ? 'none missing'
      : `${missing.length} covered libvirt functions are neither called in native/ nor listed in ` +
        `test/coverage/unbound.tsv (bind them, or list them with a reason; ` +
        `node scripts/gen-unbound.js adds them):\n  ${missing.join('\n  ')}`,
  );
});

t.test('no listed function is bound already', async (t) => {
  const stale = [...listed.keys()].filter((f) => references.has(f)).sort();
  t.strictSame(
    stale,
    [],
    stale.length === 0
      ? 'no stale entries'
      : `${stale.length} functions listed in test/coverage/unbound.tsv are now called in native/; ` +
        `remove them (node scripts/gen-unbound.js does):\n  ` +
        stale.map((f) => `${f} (${references.get(f)!.join(', ')})`).join('\n  '),
  );
});

t.test('every listed name is a covered libvirt API function', async (t) => {
  const unknown = [...listed.keys()].filter((f) => !api.has(f)).sort();
  t.strictSame(
    unknown,
    [],
    unknown.length
      ? `not libvirt API functions (typo, or removed from libvirt-api.xml):\n  ${unknown.join('\n  ')}`
      : 'all are API functions',
  );
  const outside = [...listed.keys()].filter((f) => api.has(f) && !isCovered(f)).sort();
  t.strictSame(
    outside,
    [],
    outside.length
      ? `listed, but outside the covered groups (remove them):\n  ${outside.join('\n  ')}`
      : 'all are covered functions',
  );
});
