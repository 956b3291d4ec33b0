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
// unbound.tsv: one `virFunctionName<TAB>reason` per line; `#` starts a comment line.
// scripts/gen-unbound.js adds missing names and drops bound ones (it keeps edited reasons); it
// repeats this selection, so change both together.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '../../..');
const UNBOUND = path.join(ROOT, 'test', 'coverage', 'unbound.tsv');
const NATIVE = path.join(ROOT, 'native');

function apiXmlPath(): string {
  try {
    const p = execFileSync('pkg-config', ['--variable=libvirt_api', 'libvirt'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (p && fs.existsSync(p)) return p;
  } catch {
    // fall through to Debian's path
  }
  return '/usr/share/libvirt/api/libvirt-api.xml';
}

function apiFunctions(xmlPath: string): Set<string> {
  const xml = fs.readFileSync(xmlPath, 'utf8');
  return new Set([...xml.matchAll(/<function\s+name=['"](\w+)['"]/g)].map((m) => m[1]));
}

function isCovered(name: string): boolean {
  if (/^vir(StoragePool|StorageVol|Secret|Stream|Domain)/.test(name)) return true;
  if (name.startsWith('virNode')) {
    return !/^virNode(Device|ListDevices$|NumOfDevices$)/.test(name);
  }
  if (name.startsWith('virConnect')) return !/Network|Interface|NodeDevice|NWFilter/.test(name);
  return false;
}

function nativeSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...nativeSources(p));
    else if (/\.(cc|h)$/.test(entry.name)) out.push(p);
  }
  return out.sort();
}

/** C++ source with comments, string and character literals blanked out. */
function codeOnly(src: string): string {
  return src.replace(
    /\/\/[^\n]*|\/\*[\s\S]*?\*\/|R"([^(\s]*)\([\s\S]*?\)\1"|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g,
    ' ',
  );
}

function nativeReferences(api: Set<string>): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const file of nativeSources(NATIVE)) {
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
