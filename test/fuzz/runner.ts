/**
 * The hostile-input fuzzer (issue 7), run by test/fuzz/10.api.test.ts in a child process of
 * its own so that a native crash is a failure that names the seed and the call:
 *
 *   node dist/test/fuzz/runner.js --seed S --calls N --progress FILE --report FILE
 *
 * It finds what to call by reflection, so new API is fuzzed without touching this file:
 * every function virtkit exports (and those of its namespaces, `iscsi`), the constructors of
 * its error classes, and every public method of every handle class (Connection, StoragePool,
 * StorageVolume, Secret, Domain, DomainSnapshot, DomainCheckpoint) on live handles of
 * libvirt's in-process test driver (`test:///default`), on freed handles (`free()`, then
 * used), on handles of a closed connection, and with a foreign `this`. Arguments are hostile:
 * wrong types, 16 MiB strings, embedded NULs, lone surrogates, negative / NaN / Infinity /
 * 2^53+ numbers, BigInts, Symbols, objects whose getters throw, Proxies that throw on every
 * trap, foreign and freed handles, random / truncated / deeply nested XML and XML with entity
 * declarations.
 *
 * Every call must end in a thrown or rejected TypeError, RangeError, SyntaxError,
 * LibvirtError, IscsiError or ProvisionError, or in a result; a returned stream is read to
 * its end (or error) and an iterator is ended. Anything else is a failure: another error
 * class, a TypeError/RangeError whose message is V8's own (a property read on undefined, a
 * stack overflow: lib/ did not check its input), an unhandled rejection or uncaught
 * exception, a call not settled within the per-call timeout (a hang), or a crash (the
 * parent sees the child die).
 *
 * What is not called blindly is listed by name with the reason (SKIPPED, RESTRICTED below):
 * by default nothing here talks to a daemon, and the network is reached only on 127.0.0.1
 * ports that nothing listens on.
 *
 * Two more modes:
 * - `--uri <daemon URI>` (40.daemon.test.ts, on a private libvirtd): the same, with the
 *   handles made on the daemon (DAEMON_HANDLES) and removed each round; XML paths lie under
 *   the temp directory and createStoragePool's build flags are cleared (RESTRICTED).
 * - `--mode iscsi` (30.iscsi.test.ts, on a private tgtd given in $VIRTKIT_FUZZ_ISCSI, never on
 *   the command line): IscsiSession's methods and LunReadable streams, logins with bad CHAP,
 *   discovery (ISCSI_CATEGORIES); the target's passwords join the secrets no error may show.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { inspect } from 'node:util';
import * as virtkit from 'virtkit';
import { Connection, Domain, DomainCheckpoint, DomainSnapshot, IscsiError, LibvirtError, ProvisionError, Secret, StoragePool, StorageVolume } from 'virtkit';
import { registerSecret } from '../helpers';

// ---- A seeded generator (mulberry32) -------------------------------------------------------

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const argv = process.argv.slice(2);
// Run by the fuzz tests with --seed. Run as a test of its own (tap given the folder): a plan of
// none, before anything is made (a temp dir made here would be left behind).
if (!argv.includes('--seed')) {
  console.log('1..0 # SKIP the fuzz runner, run by the fuzz tests (10.api, 30.iscsi, 40.daemon)');
  process.exit(0);
}
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const SEED = Number(opt('seed', '1')) >>> 0;
const CALLS = Number(opt('calls', '5000'));
const CALL_TIMEOUT_MS = Number(opt('timeout', '5000'));
const progressFile = opt('progress', '');
/** Self-tests of the harness (10.api.test.ts): die by SIGSEGV, or add a call that never settles, at call N. */
const SELFTEST_CRASH_AT = Number(opt('selftest-crash-at', '-1'));
const SELFTEST_HANG_AT = Number(opt('selftest-hang-at', '-1'));
const reportFile = opt('report', '');
/** --uri: the libvirt URI whose handles are fuzzed; a daemon's (the private libvirtd of
 * 40.daemon.test.ts) instead of test:///default: daemon mode (DAEMON_HANDLES, RESTRICTED). */
const URI = opt('uri', 'test:///default');
/** --mode iscsi: IscsiSession and LunReadable against a real tgtd target (mainIscsi). */
const MODE = opt('mode', 'api');
const DAEMON = !URI.startsWith('test:');
const random = rng(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const chance = (p: number) => random() < p;

const progressFd = progressFile ? fs.openSync(progressFile, 'w') : -1;
/** Written synchronously before each call: what the parent reports if the child dies. */
function progress(line: string): void {
  if (progressFd >= 0) fs.writeSync(progressFd, `${line}\n`);
}

// ---- Hostile values ------------------------------------------------------------------------

const MiB = 1024 * 1024;
const HUGE = 'A'.repeat(16 * MiB);
const HUGE_LT = '<'.repeat(MiB);
/** A port on 127.0.0.1 that nothing listens on (bound, then closed before the run). */
let deadPort = 1;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-fuzz-'));
/** Where the XML's made-up paths point: in daemon mode under the temp directory, so that a
 * root libvirtd building a pool or creating a file does it there. */
const NX = DAEMON ? path.join(tmp, 'nonexistent') : '/nonexistent';

/** Thrown by the getters and Proxies below: seeing it come back is the caller's own error. */
class FuzzProbe extends Error {
  override get name(): string {
    return 'FuzzProbe';
  }
}
const throwingGetters = (keys: string[]) =>
  Object.defineProperties(
    {},
    Object.fromEntries(keys.map((k) => [k, { enumerable: true, get: () => { throw new FuzzProbe(`getter ${k}`); } }])),
  );
const throwingProxy = () =>
  new Proxy({}, {
    get: (_t, k) => { throw new FuzzProbe(`proxy get ${String(k)}`); },
    has: () => { throw new FuzzProbe('proxy has'); },
    ownKeys: () => { throw new FuzzProbe('proxy ownKeys'); },
    getOwnPropertyDescriptor: () => { throw new FuzzProbe('proxy descriptor'); },
    getPrototypeOf: () => { throw new FuzzProbe('proxy prototype'); },
  });

/** Secret values the fuzz passes, only where secrets go (CHAP and auth passwords, Ceph keys,
 * the password of an iscsi:// portal URL): no error message, stack or inspected error or
 * handle may contain one. */
const SECRETS = ['fuzzChapPassw0rd-5e1f', 'fuzzMutualPassw0rd-77a2', 'AQBmdXp6LWNlcGgta2V5LXZhbHVlLTAxMjM0NQ=='];
for (const [i, s] of SECRETS.entries()) registerSecret(`fuzz runner secret #${i + 1}`, s); // for the secrets check (test/zz-secrets)
const secretValue = () => pick([SECRETS[0]!, SECRETS[1]!, SECRETS[2]!]);
const credentials = () => ({ username: pick(['fuzz', '', 'u\0', HUGE]), password: pick([secretValue(), secretValue(), '', 'p\0w', HUGE, 7 as unknown as string]) });

const OPTION_KEYS = [
  'flags', 'xml', 'offset', 'length', 'chunkSize', 'signal', 'sparse', 'physical', 'readOnly', 'auth', 'keepAlive', 'events', 'key', 'uri',
  'portal', 'target', 'initiatorIqn', 'chap', 'mutualChap', 'lun', 'timeoutMs', 'headerDigest', 'name', 'type', 'monitors', 'pool',
  'cephUser', 'cephKey', 'memoryMiB', 'vcpus', 'disks', 'network', 'start', 'autostart', 'firmware', 'guests', 'secret', 'username',
  'password', 'usage', 'volume', 'path', 'memory', 'capacity', 'emulator', 'arch', 'machine', 'virtType', 'queueDepth', 'preflight',
];

/** XML: valid, random, truncated, deeply nested, and with entity declarations. */
function xmlValue(): string {
  const docs = [
    "<domain type='test'><name>fuzz</name><memory>1024</memory><os><type>hvm</type></os></domain>",
    `<pool type='dir'><name>fuzz</name><target><path>${NX}/virtkit-fuzz</path></target></pool>`,
    "<volume><name>fuzz.img</name><capacity>1024</capacity></volume>",
    "<secret ephemeral='yes' private='yes'><usage type='iscsi'><target>fuzz</target></usage></secret>",
    '<domainsnapshot/>',
    '<source><name>x</name></source>',
    '<domaincheckpoint/>',
    `<disk type='file' device='disk'><source file='${NX}'/><target dev='vdz'/></disk>`,
    // What a daemon's qemu driver accepts (daemon mode only: the list stays as it was for test:///default's seeds).
    ...(DAEMON ? ["<domain type='qemu'><name>fuzz-doc</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>"] : []),
  ];
  switch (Math.floor(random() * 9)) {
    case 0:
      return pick(docs);
    case 1: {
      const d = pick(docs);
      return d.slice(0, Math.floor(random() * d.length)); // truncated
    }
    case 2: {
      const depth = pick([100, 10_000, 100_000]);
      return `${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}`; // deeply nested
    }
    case 3:
      return BILLION_LAUGHS;
    case 4:
      return externalEntity(pick(['file:///etc/passwd', `http://127.0.0.1:${entityPort}/fuzz`]));
    case 5:
      return `<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:${entityPort}/dtd"><domain/>`;
    case 6: {
      const d = pick(docs).split('');
      for (let i = 0; i < 5; i++) d[Math.floor(random() * d.length)] = pick(['<', '>', '&', '"', "'", '\0', '/', '=', ']]>', '&#0;', '&#xD800;']);
      return d.join('');
    }
    case 7:
      return `<name>${'x'.repeat(pick([1, 300, MiB]))}</name>`;
    default:
      return `<${pick(['domain', 'pool', 'volume', 'secret'])} ${'a'.repeat(10)}="${'&amp;'.repeat(1000)}"/>`;
  }
}
export const BILLION_LAUGHS = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) =>
  `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]><domain><name>&lol9;</name></domain>`;
let entityPort = 1;
const externalEntity = (url: string) => `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "${url}">]><domain><name>&e;</name></domain>`;

/** The handles of the current round, by class name, for cross-object arguments. */
const handles: Record<string, unknown[]> = {};

function stringValue(): string {
  return pick([
    '', 'test', 'default-pool', 'fuzz', 'a\0b', '\0', HUGE, HUGE_LT, '\u{1F600}\u00e9', '\uD800', '%s%s%n%x', '../../../../etc/passwd', ' ',
    'iqn.2026-01.com.example:fuzz', 'unit:0:0:1', 'vda', 'hvm', 'qemu-argv', 'iscsi', 'ceph', 'netfs', 'logical', '6695eb01-f6a4-8304-79aa-97f2502e193f',
    'x'.repeat(4097), `127.0.0.1:${deadPort}`, `iscsi://127.0.0.1:${deadPort}/iqn.2026-01.com.example:fuzz/0`, xmlValue(),
  ]);
}

function numberValue(): number {
  return pick([0, 1, -1, 0.5, -0, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 64, Number.MAX_VALUE, Number.MIN_VALUE, 7, 65536]);
}

function objectValue(depth: number): unknown {
  switch (Math.floor(random() * 14)) {
    case 0: return {};
    case 1: return [];
    case 2: return Object.create(null);
    case 3: return throwingGetters(OPTION_KEYS);
    case 4: return throwingProxy();
    case 5: return Buffer.alloc(pick([0, 1, 512, MiB]));
    case 6: return new Uint8Array(3);
    case 7: return { toString: () => { throw new FuzzProbe('toString'); }, valueOf: () => { throw new FuzzProbe('valueOf'); } };
    case 8: {
      const all = Object.values(handles).flat();
      return all.length ? pick(all) : {};
    }
    case 9: return AbortSignal.abort();
    case 10: return new Date(NaN);
    case 11: return { length: -1, 0: 'x' };
    default: {
      // An options-like object: known keys with hostile values.
      const o: Record<string, unknown> = {};
      for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) o[pick(OPTION_KEYS)] = depth > 1 ? stringValue() : value(depth + 1);
      if (chance(0.3)) o[pick(['chap', 'mutualChap', 'auth'])] = credentials();
      if (chance(0.2)) o[pick(['cephKey', 'password'])] = secretValue();
      return o;
    }
  }
}

function value(depth = 0): unknown {
  switch (Math.floor(random() * 10)) {
    case 0: return pick([undefined, null, true, false]);
    case 1: case 2: case 3: return stringValue();
    case 4: case 5: return numberValue();
    case 6: return pick([1n, -1n, 2n ** 64n, Symbol('fuzz'), () => undefined, function named() {}]);
    default: return objectValue(depth);
  }
}

// ---- What may not be called blindly --------------------------------------------------------

/** Never called, with the reason (reported). */
export const SKIPPED: Record<string, string> = {
  logoutStaleSession: 'runs the host\'s iscsiadm to log out kernel iSCSI sessions',
  'constructor:internal': '@internal constructors (created by virtkit only) of handle, stream and session classes',
  '_*': '@internal methods (leading underscore), for lib/ modules only',
  'events().next': 'waiting for an event blocks until one comes: a returned iterator is ended (return()) instead',
};

/**
 * Arguments rewritten before the call, so that the fuzz writes only into its own temp
 * directory and reaches the network only on dead 127.0.0.1 ports (reported).
 */
export const RESTRICTED: Record<string, string> = {
  'connect(uri)': 'only test:/// URIs or strings libvirt cannot parse as a URI (no daemon, no ssh)',
  'paths written': 'save, coreDump, downloadToFile, uploadFromFile, restoreDomain, saveImageXML, defineSaveImageXML: string paths go under a temp directory',
  'network': 'iscsi.connect/discover, provisionIscsiPool/provisionRbdPool: portals and monitors that parse are 127.0.0.1 on a dead port; timeoutMs at most 200',
  ...(DAEMON ? {
    'daemon paths': 'daemon mode (a private root libvirtd): the XML documents\' made-up paths lie under the temp directory, and createStoragePool\'s build flags (WITH_BUILD, _OVERWRITE, _NO_OVERWRITE) are cleared, so nothing is built or written outside it',
  } : {}),
};

const PATH_METHODS = new Set(['save', 'coreDump', 'downloadToFile', 'uploadFromFile', 'restoreDomain', 'saveImageXML', 'defineSaveImageXML']);
const NETWORK_FUNCTIONS = new Set(['connect@iscsi', 'discover@iscsi', 'provisionIscsiPool', 'provisionRbdPool']);

function safeUri(v: unknown): unknown {
  if (typeof v !== 'string' || v.includes('\0')) return v;
  if (v.startsWith('test:///')) return v;
  return pick(['test:///default', 'test:///nonexistent/virtkit-fuzz.xml', '::not a uri', `test:///default?${v.slice(0, 64)}`, `test://${tmp}/none.xml`]);
}

function safePath(v: unknown): unknown {
  if (typeof v !== 'string' || v.includes('\0')) return v;
  return path.join(tmp, 'w', v.length > 1000 ? v : v.replace(/[^A-Za-z0-9._-]/g, '_') || 'empty');
}

/** A portal or monitor that would parse is pointed at 127.0.0.1:<dead port>. */
function safeAddress(v: unknown): unknown {
  if (typeof v !== 'string' || v.includes('\0') || v.length > 100_000) return v;
  try {
    virtkit.iscsi.parsePortal(v);
  } catch {
    return v; // refused before any lookup
  }
  // The URL form carries CHAP credentials: a secret in a secret's place.
  return pick([`127.0.0.1:${deadPort}`, `[::1]:${deadPort}`, `iscsi://fuzz%${SECRETS[0]}@127.0.0.1:${deadPort}/iqn.2026-01.com.example:fuzz/1`]);
}

function restrictOptions(o: unknown): unknown {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return o;
  let own: string[];
  try {
    if (o instanceof Uint8Array) return o;
    own = Object.keys(o);
  } catch {
    return o; // a Proxy: throws before anything is read
  }
  const d = (k: string) => Object.getOwnPropertyDescriptor(o, k);
  if (own.some((k) => d(k)?.get)) return o; // throwing getters: refused before use
  const r: Record<string, unknown> = { ...(o as Record<string, unknown>) };
  if ('portal' in r) r.portal = safeAddress(r.portal);
  if (typeof r.portal !== 'string' && r.portal !== undefined && typeof r.portal === 'object') r.portal = `127.0.0.1:${deadPort}`;
  if ('monitors' in r) r.monitors = Array.isArray(r.monitors) ? r.monitors.map((m) => (typeof m === 'string' ? safeAddress(m) : { host: '127.0.0.1', port: deadPort })) : r.monitors;
  if (typeof r.timeoutMs !== 'number' || !(r.timeoutMs > 200)) r.timeoutMs = r.timeoutMs ?? 200;
  else r.timeoutMs = 200;
  return r;
}

/** createStoragePool's flags without the build bits (daemon mode). */
function withoutBuild(v: unknown): unknown {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** 32) return v; // refused before native code
  return v - ((v >>> 0) & 7);
}

function restrict(name: string, args: unknown[]): unknown[] {
  if (name === 'connect') return [safeUri(args[0]), ...args.slice(1)];
  if (DAEMON && name === 'Connection.createStoragePool') return [args[0], withoutBuild(args[1]), ...args.slice(2)];
  const method = name.split('.').pop()!;
  if (PATH_METHODS.has(method)) return [safePath(args[0]), ...args.slice(1)];
  if (NETWORK_FUNCTIONS.has(name)) {
    if (name === 'discover@iscsi') return [safeAddress(args[0]), restrictOptions(args[1] ?? {})];
    return args.map((a) => restrictOptions(a));
  }
  return args;
}

// ---- Outcomes ------------------------------------------------------------------------------

const ALLOWED = [TypeError, RangeError, SyntaxError, LibvirtError, IscsiError, ProvisionError] as const;
/** Messages of V8's own TypeErrors and RangeErrors: lib/ let the input through unchecked. */
const INTERNAL = /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|Maximum call stack|Cannot destructure|Invalid array length|Invalid string length|Cannot mix BigInt|Cannot create property|undefined is not|null is not|Reduce of empty array|Cannot access .* before initialization/;

type Kind = 'result' | 'SystemError' | 'AbortError' | 'AggregateError' | 'TypeError' | 'RangeError' | 'SyntaxError' | 'LibvirtError' | 'IscsiError' | 'ProvisionError' | 'FuzzProbe';
interface Failure {
  call: string;
  problem: string;
}
const results: Record<string, number> = Object.create(null);
const categories: Record<string, number> = Object.create(null);
const failures: Failure[] = [];
let current = '(none)';
let hangs = 0;

process.on('unhandledRejection', (err) => failures.push({ call: current, problem: `unhandled rejection: ${describeError(err)}` }));
process.on('uncaughtException', (err) => failures.push({ call: current, problem: `uncaught exception: ${describeError(err)}` }));

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.constructor?.name ?? 'Error'} (name ${err.name}): ${err.message.slice(0, 300)}`;
  return `a non-Error thrown: ${typeof err}`;
}

/** The outcomes that pass. */
const OK_KINDS = { result: 1, AbortError: 1, AggregateError: 1, TypeError: 1, RangeError: 1, SyntaxError: 1, LibvirtError: 1, IscsiError: 1, ProvisionError: 1, FuzzProbe: 1, SystemError: 1 };

function classify(err: unknown, foreignThis: boolean, method: string): Kind | string {
  if (err instanceof FuzzProbe) return 'FuzzProbe'; // the caller's own getter threw: propagated, fine
  if (!(err instanceof Error)) return `not an Error: ${typeof err}`;
  // Methods that read or write local files fail as Node's fs does (ENOENT, EISDIR…).
  const sys = err as NodeJS.ErrnoException;
  if (PATH_METHODS.has(method) && typeof sys.code === 'string' && /^E[A-Z]+$/.test(sys.code) && typeof sys.syscall === 'string') return 'SystemError';
  // Node's stream, destroyed with an error while failing by itself, reports both: fine when each is.
  if (err instanceof AggregateError && Array.isArray(err.errors) && err.errors.length > 0) {
    const inner = err.errors.map((e: unknown) => classify(e, foreignThis, method));
    const bad = inner.find((k) => !(k in OK_KINDS));
    return bad ? `in an AggregateError: ${bad}` : 'AggregateError';
  }
  // Node's own for a stream or call stopped through an AbortSignal the caller gave.
  if (err.name === 'AbortError' && sys.code === 'ABORT_ERR') return 'AbortError';
  const cls = ALLOWED.find((c) => err.constructor === c);
  if (!cls) return `untyped: ${describeError(err)}`;
  if ((cls === TypeError || cls === RangeError) && INTERNAL.test(err.message) && !foreignThis) return `internal: ${describeError(err)}`;
  if (typeof err.message !== 'string') return 'message not a string';
  return cls.name as Kind;
}

function describeArg(a: unknown): string {
  if (typeof a === 'string') return a.length > 60 ? `string(${a.length}) ${JSON.stringify(a.slice(0, 40))}…` : JSON.stringify(a);
  if (typeof a === 'bigint') return `${a}n`;
  if (typeof a === 'symbol' || typeof a === 'function') return typeof a;
  if (a === null || typeof a !== 'object') return String(a);
  try {
    if (a instanceof Uint8Array) return `${a.constructor.name}(${a.byteLength})`;
    const name = Object.getPrototypeOf(a)?.constructor?.name ?? 'null-proto';
    const keys = Object.keys(a).slice(0, 6);
    return `${name}{${keys.join(',')}}`;
  } catch {
    return 'Proxy';
  }
}

/** Reads a returned stream to its end; ends an iterator; awaits a thenable. */
async function drain(r: unknown): Promise<void> {
  if (r instanceof Readable) {
    r.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      r.on('end', resolve).on('error', () => resolve()).on('close', resolve);
      r.resume();
    });
    return;
  }
  if (r instanceof Writable) {
    await new Promise<void>((resolve) => {
      r.on('error', () => resolve()).on('finish', resolve).on('close', resolve);
      r.end(Buffer.alloc(512));
    });
    return;
  }
  if (r && typeof r === 'object' && typeof (r as AsyncIterator<unknown>).return === 'function' && Symbol.asyncIterator in r) {
    await (r as unknown as AsyncIterator<unknown>).return!();
  }
}

let leakWhere = '';
/** Which of SECRETS (its index + 1) an error shows in its message, stack, inspect or JSON; 0 if none. */
function leakIn(err: unknown): number {
  if (!(err instanceof Error)) return 0;
  const views: Array<[string, () => string]> = [
    ['message', () => String(err.message)], ['stack', () => String(err.stack)], ['inspect output', () => inspect(err, { depth: 6 })],
    ['JSON', () => JSON.stringify(err) ?? ''], ['cause', () => inspect((err as { cause?: unknown }).cause, { depth: 6 })],
  ];
  for (const [where, view] of views) {
    let text: string;
    try {
      text = view();
    } catch {
      continue;
    }
    const i = SECRETS.findIndex((s) => text.includes(s));
    if (i >= 0) {
      leakWhere = where;
      return i + 1;
    }
  }
  return 0;
}

/** The per-call timer. Not unref'd: a promise that never settles and holds nothing open must
 * still end as a hang, not as a process that quietly runs out of work. */
let timer: NodeJS.Timeout | undefined;
const timeout = (ms: number) => new Promise<'hang'>((resolve) => {
  timer = setTimeout(() => resolve('hang'), ms);
});

/** One call: `fn` with `self` as `this`; records its outcome. */
async function attempt(category: string, name: string, self: unknown, fn: (...a: unknown[]) => unknown, rawArgs: unknown[], foreignThis = false, construct = false): Promise<void> {
  const args = restrict(name, rawArgs);
  current = `${category} ${name}(${args.map(describeArg).join(', ')})`;
  progress(current);
  categories[category] = (categories[category] ?? 0) + 1;
  let kind: string;
  try {
    const run = async () => {
      const r = await (construct ? new (fn as unknown as new (...a: unknown[]) => unknown)(...args) : fn.apply(self, args));
      // A handle (a Connection opened with a password…) shows no secret when inspected.
      if (Object.values(HANDLE_CLASSES).some((c) => r instanceof c)) {
        const shown = `${inspect(r, { depth: 6 })} ${JSON.stringify(r) ?? ''}`;
        const i = SECRETS.findIndex((x) => shown.includes(x));
        if (i >= 0) failures.push({ call: current, problem: `a secret value (#${i + 1}) in the inspected or JSON result` });
      }
      await drain(r);
    };
    const outcome = await Promise.race([run().then(() => 'result' as const), timeout(CALL_TIMEOUT_MS)]).finally(() => clearTimeout(timer));
    if (outcome === 'hang') {
      hangs++;
      failures.push({ call: current, problem: `not settled within ${CALL_TIMEOUT_MS} ms` });
      kind = 'hang';
    } else kind = 'result';
  } catch (err) {
    const leak = leakIn(err);
    if (leak) failures.push({ call: current, problem: `a secret value (#${leak}) in the error's ${leakWhere}` });
    kind = classify(err, foreignThis, name.split('.').pop()!);
    if (!(kind in OK_KINDS)) {
      failures.push({ call: current, problem: kind });
      kind = 'failure';
    }
  }
  results[kind] = (results[kind] ?? 0) + 1;
}

// ---- What to call, found by reflection -----------------------------------------------------

const isClass = (f: unknown): f is new (...a: unknown[]) => unknown =>
  typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));

interface Target {
  name: string;
  fn: (...a: unknown[]) => unknown;
  construct?: boolean;
}

/** Exported functions (and those of exported namespaces), and the error classes' constructors. */
function exportedTargets(): Target[] {
  const out: Target[] = [];
  const visit = (obj: Record<string, unknown>, suffix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'default' || k === '__esModule') continue;
      if (isClass(v)) {
        if (v === LibvirtError || v === IscsiError || v === ProvisionError) out.push({ name: `new ${k}${suffix}`, fn: v as never, construct: true });
        continue;
      }
      if (typeof v === 'function') {
        if (Object.hasOwn(SKIPPED, k)) continue;
        out.push({ name: `${k}${suffix}`, fn: v as never });
      } else if (v && typeof v === 'object' && !suffix && Object.values(v).some((x) => typeof x === 'function')) {
        visit(v as Record<string, unknown>, `@${k}`);
      }
    }
  };
  visit(virtkit as unknown as Record<string, unknown>, '');
  return out;
}

/** Public methods of a handle class: own methods of its prototypes up to EventEmitter / Object. */
function methodsOf(cls: Function): string[] {
  const names = new Set<string>();
  for (let p = cls.prototype; p && p !== Object.prototype && p !== (Readable as Function).prototype && p.constructor?.name !== 'EventEmitter'; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, k)!;
      if (k === 'constructor' || k.startsWith('_') || typeof d.value !== 'function') continue;
      names.add(k);
    }
  }
  return [...names].sort();
}

const HANDLE_CLASSES = { Connection, StoragePool, StorageVolume, Secret, Domain, DomainSnapshot, DomainCheckpoint } as const;
type HandleClass = keyof typeof HANDLE_CLASSES;
type State = 'live' | 'freed' | 'closed-connection';

/**
 * The host each round's handles live on: test:///default's own guest `test` and pool
 * `default-pool`, in a file of the runner's own. A test-driver connection opened from a file
 * gets a state of its own, so a round that destroys or undefines them leaves the next round
 * whole (all test:///default connections of a process share one state).
 */
const ROUND_HOST = path.join(tmp, 'round-host.xml');
fs.writeFileSync(
  ROUND_HOST,
  `<node><domain type='test'><name>test</name><memory>8192</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>` +
    `<pool type='dir'><name>default-pool</name><target><path>/default-pool</path></target></pool></node>`,
);

/** A fresh set of handles on a fresh test-driver state (ROUND_HOST), or, in daemon mode, of
 * the daemon (daemonHandles). */
async function makeHandles(): Promise<{ conn: Connection; objects: Partial<Record<HandleClass, unknown>>; names?: string[] }> {
  if (DAEMON) return daemonHandles();
  const conn = await virtkit.connect(`test://${ROUND_HOST}`);
  const objects: Partial<Record<HandleClass, unknown>> = { Connection: conn };
  const pool = await conn.lookupStoragePoolByName('default-pool').catch(() => null);
  if (pool) {
    objects.StoragePool = pool;
    const vol = await pool.createVolume({ name: `fuzz-${Math.floor(random() * 1e9)}.img`, capacity: MiB } as never).catch(() => null);
    if (vol) objects.StorageVolume = vol;
  }
  const dom = await conn.lookupDomainByName('test').catch(() => null);
  if (dom) {
    objects.Domain = dom;
    const snap = await dom.createSnapshot().catch(() => null);
    if (snap) objects.DomainSnapshot = snap;
  }
  // A checkpoint on a running domain of its own (the test driver refuses one beside snapshots).
  const n = Math.floor(random() * 1e9);
  const other = await conn.createDomain(`<domain type='test'><name>fuzz-cp-${n}</name><memory>1024</memory><os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='/nonexistent/virtkit-fuzz.img'/><target dev='vda'/></disk></devices></domain>`).catch(() => null);
  if (other) {
    const cp = await other.createCheckpoint().catch(() => null);
    if (cp) objects.DomainCheckpoint = cp;
  }
  const secret = await conn.defineSecret({ ephemeral: true, usage: { type: 'iscsi', target: `fuzz-${Math.floor(random() * 1e9)}` } }).catch(() => null);
  if (secret) objects.Secret = secret;
  return { conn, objects };
}

/** Daemon mode: what each set of handles is made of. */
export const DAEMON_HANDLES = 'a dir pool under the temp directory (defined, started) with a 1 MiB qcow2 volume; a qemu domain (defined, not started) whose disk is that volume, with an internal snapshot; an ephemeral secret. No checkpoint: libvirt makes one of a running guest only';

/** A fresh set of handles on a fresh connection to the daemon; `names`: the objects made, for dropHandles. */
async function daemonHandles(): Promise<{ conn: Connection; objects: Partial<Record<HandleClass, unknown>>; names: string[] }> {
  const conn = await virtkit.connect(URI);
  const objects: Partial<Record<HandleClass, unknown>> = { Connection: conn };
  const n = `fuzz-${Math.floor(random() * 1e9)}`;
  const dir = path.join(tmp, n);
  fs.mkdirSync(dir, { recursive: true });
  const pool = await conn.defineStoragePool(`<pool type='dir'><name>${n}</name><target><path>${dir}</path></target></pool>`).catch(() => null);
  if (pool && (await pool.start().then(() => true, () => false))) {
    objects.StoragePool = pool;
    const vol = await pool.createVolume(`<volume><name>${n}.qcow2</name><capacity>${MiB}</capacity><target><format type='qcow2'/></target></volume>`).catch(() => null);
    if (vol) {
      objects.StorageVolume = vol;
      const dom = await conn.defineDomain(`<domain type='qemu'><name>${n}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>
        <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${await vol.path()}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`).catch(() => null);
      if (dom) {
        objects.Domain = dom;
        const snap = await dom.createSnapshot().catch(() => null);
        if (snap) objects.DomainSnapshot = snap;
      }
    }
  }
  const secret = await conn.defineSecret({ ephemeral: true, usage: { type: 'iscsi', target: n } }).catch(() => null);
  if (secret) objects.Secret = secret;
  return { conn, objects, names: [n] };
}

/** Daemon mode: removes what a set of handles made (and what the fuzz did to it: a started guest). */
async function dropHandles(admin: Connection | null, names: string[] | undefined): Promise<void> {
  if (!admin || !names) return;
  const ignore = () => undefined;
  for (const n of names) {
    const dom = await admin.lookupDomainByName(n).catch(() => null);
    if (dom) {
      await dom.destroy().catch(ignore);
      await dom.undefine(virtkit.DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | virtkit.DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | virtkit.DomainUndefineFlagsValues.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA).catch(ignore);
    }
    const pool = await admin.lookupStoragePoolByName(n).catch(() => null);
    if (pool) {
      await pool.destroy().catch(ignore);
      await pool.undefine().catch(ignore);
    }
    const secret = await admin.lookupSecretByUsage('iscsi', n).catch(() => null);
    if (secret) await secret.undefine().catch(ignore);
  }
}

async function main(): Promise<void> {
  // A dead port: bound, then closed.
  deadPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  // A listener that records whether anything fetched an external entity or DTD.
  let contacted = 0;
  const listener = net.createServer((sock) => {
    contacted++;
    sock.destroy();
  });
  entityPort = await new Promise<number>((resolve) => listener.listen(0, '127.0.0.1', () => resolve((listener.address() as net.AddressInfo).port)));
  listener.unref();

  const exported = exportedTargets();
  const methods = Object.fromEntries(Object.entries(HANDLE_CLASSES).map(([n, c]) => [n, methodsOf(c)])) as Record<HandleClass, string[]>;
  const unavailable = new Set<string>();
  const started = Date.now();

  // Daemon mode: a connection of the harness's own, to remove each round's objects.
  const admin = DAEMON ? await virtkit.connect(URI) : null;
  let round = await makeHandles();
  let closed = await makeHandles();
  await closed.conn.close();
  let freed = await makeHandles();
  for (const [n, o] of Object.entries(freed.objects)) if (n !== 'Connection') (o as { free(): void }).free();
  const refresh = () => {
    for (const [n, o] of Object.entries(round.objects)) handles[n] = [o, freed.objects[n as HandleClass], closed.objects[n as HandleClass]].filter(Boolean);
  };
  refresh();
  for (const c of Object.keys(HANDLE_CLASSES)) if (!round.objects[c as HandleClass]) unavailable.add(c);

  for (let i = 0; i < CALLS; i++) {
    // Every 250 calls, fresh handles (the test driver's state is what earlier calls left).
    if (i > 0 && i % 250 === 0) {
      await round.conn.close().catch(() => undefined);
      await dropHandles(admin, round.names);
      round = await makeHandles();
      refresh();
    }
    if (i === SELFTEST_CRASH_AT) {
      progress(`selftest crash at call ${i}`);
      process.kill(process.pid, 'SIGSEGV');
    }
    if (i === SELFTEST_HANG_AT) {
      await attempt('selftest', 'neverSettles', undefined, () => new Promise(() => undefined), []);
      continue;
    }
    const nargs = Math.floor(random() * 4);
    const args = Array.from({ length: nargs }, () => value());
    const r = random();
    if (r < 0.3) {
      const t = pick(exported);
      await attempt(t.construct ? 'constructor' : 'function', t.name, undefined, t.fn, args, false, t.construct);
      continue;
    }
    const clsName = pick(Object.keys(HANDLE_CLASSES)) as HandleClass;
    const method = pick(methods[clsName]);
    const fn = (HANDLE_CLASSES[clsName].prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
    if (r < 0.36) {
      // A foreign `this`: another class's handle, a plain object, a Proxy.
      const self = pick([{}, null, throwingProxy(), ...Object.values(handles).flat().filter((o) => !(o instanceof HANDLE_CLASSES[clsName]))]);
      await attempt('foreign-this', `${clsName}.${method}`, self, fn, args, true);
      continue;
    }
    const state: State = r < 0.76 ? 'live' : r < 0.88 ? 'freed' : 'closed-connection';
    const set = state === 'live' ? round.objects : state === 'freed' ? freed.objects : closed.objects;
    const self = set[clsName];
    if (!self) {
      categories[`unavailable ${clsName}`] = (categories[`unavailable ${clsName}`] ?? 0) + 1;
      i--; // not a call: pick again
      if (unavailable.size === Object.keys(HANDLE_CLASSES).length) break;
      continue;
    }
    await attempt(`method/${state}`, `${clsName}.${method}`, self, fn, args);
  }
  await round.conn.close().catch(() => undefined);
  await freed.conn.close().catch(() => undefined);
  for (const h of [round, freed, closed]) await dropHandles(admin, h.names);
  await admin?.close().catch(() => undefined);
  // Late rejections of calls already counted show up here.
  await new Promise((resolve) => setTimeout(resolve, 100));
  if (contacted > 0) failures.push({ call: '(XML with external entities)', problem: `the entity listener was contacted ${contacted} time(s)` });
  fs.rmSync(tmp, { recursive: true, force: true });

  const total = Object.entries(categories).filter(([k]) => !k.startsWith('unavailable')).reduce((a, [, n]) => a + n, 0);
  const report = {
    mode: DAEMON ? 'daemon' : 'api',
    uri: URI,
    ...(DAEMON ? { handles: DAEMON_HANDLES } : {}),
    seed: SEED,
    calls: total,
    ms: Date.now() - started,
    crashes: 0,
    hangs,
    failures,
    categories,
    results,
    targets: { functions: exported.map((t) => t.name), methods, unavailable: [...unavailable] },
    entityListenerContacts: contacted,
    skipped: SKIPPED,
    restricted: RESTRICTED,
  };
  if (reportFile) fs.writeFileSync(reportFile, JSON.stringify(report, null, 2));
  progress('(done)');
  process.exit(0);
}

// ---- iSCSI mode (30.iscsi.test.ts) ---------------------------------------------------------

/** The target, from $VIRTKIT_FUZZ_ISCSI (never the command line: it holds the CHAP passwords). */
interface IscsiFuzzTarget {
  portal: string;
  target: string;
  chap: { username: string; password: string };
  mutual: { username: string; password: string } | null;
  luns: Array<{ lun: number; sizeBytes: number }>;
}

/** What each category of the iSCSI mode does (reported). */
export const ISCSI_CATEGORIES: Record<string, string> = {
  'session-method': 'a method of IscsiSession (found by reflection) on the live session, with LUNs, LBAs, block counts and buffers from hostile lists, or fully random arguments',
  'session-method/closed': 'the same on a closed session',
  'foreign-this': 'an IscsiSession method with another object as `this`',
  read: 'read(lun, lba, blocks): LBAs around the end of the LUN and far past it, 2^32, 2^53, negative, NaN, fractions; block counts 0 … 2^32 and past the 1 GiB limit',
  'readInto/write': 'readInto and write with buffers of 0, 1, 511, a block, many blocks, detached, and the same LBAs',
  stream: 'readStream(lun, options) with hostile offset, length, chunkSize, queueDepth and signal; read to the end (at most 64 chunks), destroyed at once, after a chunk or with an error, aborted mid-read, paused and destroyed',
  'stream/session-closed': 'a stream whose session is closed under it mid-read (a session of its own)',
  'close-in-flight': 'a session of its own closed with reads, a stream and READ CAPACITYs in flight',
  connect: 'iscsi.connect to the real portal with one to three fields made hostile: wrong CHAP user or password (empty, NUL, 16 MiB, another secret), wrong or missing mutual CHAP, no CHAP, an unknown target, hostile LUN, timeout and digest, the iscsi:// URL form',
  discover: 'iscsi.discover on the real portal with hostile options',
};

async function mainIscsi(): Promise<void> {
  const env = JSON.parse(process.env.VIRTKIT_FUZZ_ISCSI ?? 'null') as IscsiFuzzTarget | null;
  if (!env) throw new Error('--mode iscsi needs $VIRTKIT_FUZZ_ISCSI (portal, target, CHAP, LUNs), as 30.iscsi.test.ts sets it');
  // The target's real passwords may show in no error, stack or inspected session either.
  SECRETS.push(env.chap.password, ...(env.mutual ? [env.mutual.password] : []));
  const { iscsi } = virtkit;
  deadPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const started = Date.now();
  const initiator = () => `iqn.2026-11.org.virtkit.fuzz:i${Math.floor(random() * 1e9)}`;
  const good = () => ({ portal: env.portal, target: env.target, initiatorIqn: initiator(), chap: env.chap, ...(env.mutual ? { mutualChap: env.mutual } : {}), timeoutMs: 5000 });
  const open = () => iscsi.connect(good());
  let live = await open();
  const closed = await open();
  await closed.close();
  const luns = env.luns.map((l) => l.lun);
  const caps = new Map<number, { blocks: number; blockSize: number }>();
  for (const lun of luns) {
    const c = await live.readCapacity(lun);
    caps.set(lun, { blocks: c.blocks, blockSize: c.blockSize });
  }
  const methods = methodsOf(iscsi.IscsiSession);
  let authRefusals = 0;

  // Half the time a value native code gets to see (a real LUN, an integer LBA or count at
  // or past the edges), else anything.
  const lunValue = (): unknown => chance(0.5) ? pick(luns) : pick([...luns, ...luns, ...luns, 0, 7, 255, 256, 16383, 16384, 65536, -1, NaN, 1.5, Infinity, '1', null, undefined, 1n]);
  const lbaValue = (lun: unknown): unknown => {
    const b = caps.get(lun as number)?.blocks ?? 2048;
    if (chance(0.5)) return pick([0, 1, b - 1, b - 8, b, b + 1, 2 ** 32, 2 ** 48]);
    return pick([0, 0, 1, b - 1, b - 8, b, b + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER, 2 ** 53, -1, -0, NaN, Infinity, 0.5, '0', 1n, null, undefined]);
  };
  const blocksValue = (): unknown => chance(0.5) ? pick([1, 8, 64, 2048, 2 ** 21 + 1]) : pick([1, 1, 2, 8, 128, 2048, 2 ** 16, 2 ** 21 + 1, 2 ** 32 - 1, 2 ** 32, 0, -1, NaN, Infinity, 0.5, '1', null, undefined]);
  const bufferValue = (lun: unknown): unknown => {
    const bs = caps.get(lun as number)?.blockSize ?? 512;
    const b = pick([0, 1, bs - 1, bs, bs + 1, 2 * bs, 64 * bs, 1024 * 1024]);
    if (chance(0.05)) {
      const u = new Uint8Array(bs);
      structuredClone(u.buffer, { transfer: [u.buffer] }); // detached: byteLength 0
      return u;
    }
    return chance(0.2) ? new Uint8Array(b) : Buffer.alloc(b, 0x5a);
  };
  /** Arguments shaped like the method's (lun, lba, blocks | buffer), or random ones. */
  const sessionArgs = (method: string): unknown[] => {
    if (chance(0.2)) return Array.from({ length: Math.floor(random() * 4) }, () => value());
    const lun = lunValue();
    const args: unknown[] = [lun];
    if (method === 'read') args.push(lbaValue(lun), blocksValue());
    else if (method === 'readInto' || method === 'write') args.push(lbaValue(lun), bufferValue(lun));
    else if (method === 'readStream') args.push(streamOptions(lun));
    return args.slice(0, chance(0.1) ? Math.floor(random() * args.length) : args.length);
  };
  function streamOptions(lun: unknown): unknown {
    if (chance(0.15)) return value();
    const c = caps.get(lun as number) ?? { blocks: 2048, blockSize: 512 };
    const bytes = c.blocks * c.blockSize;
    const o: Record<string, unknown> = {};
    if (chance(0.7)) o.offset = pick([0, c.blockSize, bytes - c.blockSize, bytes, bytes + c.blockSize, 1, -c.blockSize, NaN, 2 ** 53, '0']);
    if (chance(0.7)) o.length = pick([0, c.blockSize, 4096, 65536, bytes, bytes + c.blockSize, 1, -1, NaN, Infinity]);
    if (chance(0.7)) o.chunkSize = pick([1, c.blockSize - 1, c.blockSize, 4096, 65536, MiB, 2 ** 30, 2 ** 30 + 1, 0, -1, NaN]);
    if (chance(0.5)) o.queueDepth = pick([1, 2, 4, 64, 256, 257, 0, -1, NaN, 1.5]);
    if (chance(0.2)) o.signal = pick([AbortSignal.abort(), new AbortController().signal, {}, 'signal']);
    return o;
  }

  /** Reads a stream as `action` says; resolves when it ended or was destroyed, rejects with its error. */
  const driveStream = (s: Readable, action: string, onChunk?: (n: number) => void): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let chunks = 0;
      const controller = (s as { fuzzController?: AbortController }).fuzzController;
      s.on('error', reject);
      s.on('end', () => resolve());
      s.on('close', () => resolve()); // destroyed without an error
      if (action === 'destroy-at-once') return void s.destroy();
      if (action === 'destroy-with-error') return void setImmediate(() => s.destroy(new FuzzProbe('destroyed by the fuzz')));
      if (action === 'pause-then-destroy') {
        s.once('readable', () => setTimeout(() => s.destroy(), 5));
        return;
      }
      s.on('data', () => {
        chunks++;
        onChunk?.(chunks);
        if (action === 'destroy-after-chunk' && chunks === 1) s.destroy();
        if (action === 'abort-mid-read' && chunks === 1) controller?.abort();
        if (chunks >= 64) s.destroy(); // bounded: enough of a LUN
      });
    });
  const STREAM_ACTIONS = ['drain', 'drain', 'destroy-at-once', 'destroy-after-chunk', 'destroy-with-error', 'abort-mid-read', 'pause-then-destroy'];

  for (let i = 0; i < CALLS; i++) {
    if (live.closed || (i > 0 && i % 200 === 0)) {
      await live.close();
      live = await open();
    }
    if (i === SELFTEST_CRASH_AT) {
      progress(`selftest crash at call ${i}`);
      process.kill(process.pid, 'SIGSEGV');
    }
    const r = random();
    if (r < 0.22) {
      const method = pick(methods);
      const fn = (iscsi.IscsiSession.prototype as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
      const which = random();
      if (which < 0.1) {
        // A returned stream gets its listeners at once (a stream failing in its constructor's
        // tick errors before an `await` would attach them).
        await attempt('foreign-this', `IscsiSession.${method}`, pick([{}, null, throwingProxy(), Buffer.alloc(1)]), function (this: unknown, ...a: unknown[]) {
          const out = fn.apply(this, a);
          return out instanceof Readable ? driveStream(out, 'drain') : out;
        }, sessionArgs(method), true);
      } else if (which < 0.3) {
        await attempt('session-method/closed', `IscsiSession.${method}`, closed, async (...a: unknown[]) => {
          const out = await fn.apply(closed, a);
          if (out instanceof Readable) await driveStream(out, 'drain');
          return undefined;
        }, sessionArgs(method));
      } else {
        const self = live;
        await attempt('session-method', `IscsiSession.${method}`, self, async (...a: unknown[]) => {
          const out = await fn.apply(self, a);
          if (out instanceof Readable) await driveStream(out, pick(STREAM_ACTIONS));
          return undefined;
        }, sessionArgs(method));
      }
    } else if (r < 0.4) {
      const lun = lunValue();
      await attempt('read', 'IscsiSession.read', live, live.read as never, [lun, lbaValue(lun), blocksValue()]);
    } else if (r < 0.5) {
      const lun = lunValue();
      const method = chance(0.5) ? 'readInto' : 'write';
      const fn = (method === 'readInto' ? live.readInto : live.write) as (...a: unknown[]) => unknown;
      await attempt('readInto/write', `IscsiSession.${method}`, live, fn, [lun, lbaValue(lun), bufferValue(lun)]);
    } else if (r < 0.68) {
      const lun = lunValue();
      const options = streamOptions(lun);
      const action = pick(STREAM_ACTIONS);
      const self = live;
      await attempt('stream', `IscsiSession.readStream/${action}`, self, (l: unknown, o: unknown) => {
        let opts = o;
        let controller: AbortController | undefined;
        if (action === 'abort-mid-read' && o && typeof o === 'object' && !Array.isArray(o) && !(o instanceof Uint8Array)) {
          try {
            controller = new AbortController();
            opts = { ...(o as object), signal: controller.signal };
          } catch {
            opts = o; // a Proxy or throwing getters: refused by readStream
          }
        }
        const s = self.readStream(l as number, opts as never);
        (s as { fuzzController?: AbortController }).fuzzController = controller;
        return driveStream(s, action);
      }, [lun, options]);
    } else if (r < 0.72) {
      // A stream whose session is closed under it mid-read.
      await attempt('stream/session-closed', 'IscsiSession.readStream+close', undefined, async () => {
        const own = await open();
        try {
          const s = own.readStream(pick(luns), { chunkSize: pick([512, 4096, 65536]), queueDepth: pick([1, 4, 16]) });
          await driveStream(s, 'drain', (n) => {
            if (n === 1) void own.close();
          });
        } finally {
          await own.close();
        }
      }, []);
    } else if (r < 0.76) {
      // Commands in flight when the session closes: each settles (a result or `closed`), none hangs.
      await attempt('close-in-flight', 'IscsiSession.close(in flight)', undefined, async () => {
        const own = await open();
        const lun = pick(luns);
        const pending: Array<Promise<unknown>> = [];
        for (let k = 0, n = 1 + Math.floor(random() * 32); k < n; k++) pending.push(pick([() => own.read(lun, k, 8), () => own.readCapacity(lun), () => own.inquiry(lun), () => own.testUnitReady(lun)])());
        const settled = Promise.allSettled(pending); // handled from the start: they reject while close() runs
        const s = own.readStream(lun, { chunkSize: 4096 });
        const streamDone = driveStream(s, 'drain').catch((e: unknown) => e);
        if (chance(0.5)) await new Promise((resolve) => setImmediate(resolve));
        await own.close();
        const outcomes = await settled;
        for (const o of outcomes) if (o.status === 'rejected' && !(o.reason instanceof IscsiError)) throw o.reason;
        const se = await streamDone;
        if (se && !(se instanceof IscsiError)) throw se;
      }, []);
    } else if (r < 0.94) {
      const o: Record<string, unknown> = good();
      const fields = 1 + Math.floor(random() * 3);
      let badChap = false;
      for (let k = 0; k < fields; k++) {
        switch (Math.floor(random() * 9)) {
          case 0: o.chap = { ...env.chap, password: pick([`wrong-${Math.floor(random() * 1e9)}`, '', 'p\0w', HUGE, secretValue(), env.mutual?.password ?? 'x'.repeat(17), 7]) }; badChap = true; break;
          case 1: o.chap = { ...env.chap, username: pick(['nobody', '', 'u\0', HUGE, env.mutual?.username ?? 'x']) }; badChap = true; break;
          case 2: o.mutualChap = pick([undefined, { ...(env.mutual ?? env.chap), password: `wrong-${Math.floor(random() * 1e9)}` }, { username: 'someone-else', password: env.mutual?.password ?? 'x' }, 'mutual']); badChap = true; break;
          case 3: delete o.chap; delete o.mutualChap; badChap = true; break;
          case 4: o.target = pick(['iqn.2026-11.org.virtkit.test:nope', '', stringValue(), 7]); break;
          case 5: o.lun = lunValue(); break;
          case 6: o.timeoutMs = pick([1, 50, 200, 0, -1, NaN, 2 ** 31, 10_000]); break;
          case 7: o.headerDigest = pick(['none', 'crc32c', 'prefer-crc32c', 'prefer-none', 'bogus', 7, null]); break;
          default: o.portal = pick([`iscsi://${env.chap.username}%${pick([env.chap.password, 'wrong'])}@${env.portal}/${env.target}`, `iscsi://${env.portal}/${env.target}/${pick(luns)}`, env.portal, `${env.portal}:1`, stringValue()]); if (typeof o.portal === 'string' && o.portal.startsWith('iscsi://')) { delete o.target; delete o.chap; delete o.mutualChap; } if (o.portal !== env.portal && typeof o.portal === 'string' && !o.portal.includes(env.portal)) o.portal = safeAddress(o.portal); break;
        }
      }
      await attempt(badChap ? 'connect/bad-chap' : 'connect', 'iscsi.connect(real portal)', undefined, async (opts: unknown) => {
        try {
          const s = await iscsi.connect(opts as never);
          const shown = inspect(s, { depth: 6, showHidden: true });
          const leak = SECRETS.findIndex((x) => shown.includes(x));
          if (leak >= 0) failures.push({ call: current, problem: `a secret value (#${leak + 1}) in the inspected session` });
          await s.close();
        } catch (err) {
          if (err instanceof IscsiError && err.kind === 'auth') authRefusals++;
          throw err;
        }
      }, [o]);
    } else {
      const o: Record<string, unknown> = { initiatorIqn: initiator(), timeoutMs: 5000 };
      if (chance(0.5)) o.chap = pick([env.chap, { ...env.chap, password: 'wrong-password-1' }, {}, 'chap']);
      if (chance(0.3)) o[pick(['initiatorIqn', 'timeoutMs', 'headerDigest', 'chap'])] = value();
      await attempt('discover', 'iscsi.discover(real portal)', undefined, (p: unknown, opts: unknown) => iscsi.discover(p as string, opts as never), [pick([env.portal, env.portal, `iscsi://${env.portal}`, stringValue()]), pick([o, o, o, value()])].map((a, k) => (k === 0 && a !== env.portal && a !== `iscsi://${env.portal}` ? safeAddress(a) : a)));
    }
  }
  await live.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  fs.rmSync(tmp, { recursive: true, force: true });
  const total = Object.values(categories).reduce((a, n) => a + n, 0);
  const report = {
    mode: 'iscsi',
    seed: SEED,
    calls: total,
    ms: Date.now() - started,
    crashes: 0,
    hangs,
    failures,
    categories,
    results,
    authRefusals,
    targets: { methods: { IscsiSession: methods }, luns: [...caps].map(([lun, c]) => ({ lun, ...c })) },
    described: ISCSI_CATEGORIES,
  };
  if (reportFile) fs.writeFileSync(reportFile, JSON.stringify(report, null, 2));
  progress('(done)');
  process.exit(0);
}

void (MODE === 'iscsi' ? mainIscsi() : main()).catch((err) => {
  progress(`(runner failed: ${describeError(err)})`);
  console.error(err);
  process.exit(2);
});
