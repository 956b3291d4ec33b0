// lib/constants.ts is generated from libvirt-api.xml by scripts/gen-constants.js: it must be up
// to date, its values must match the XML (read here independently of the generator), and the
// generator's --check must notice a stale file.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as constants from '../../lib/constants';
import {
  ConnectGetAllDomainStatsFlags,
  CPUCompareResult,
  DomainMemoryStatTags,
  DomainVcpuFlags,
  ErrorDomain,
  ErrorLevel,
  ErrorNumber,
  KeycodeSet,
  LIBVIRT_API_VERSION,
  NetworkUpdateCommand,
  SecretUsageType,
  StoragePoolState,
  errorCodeName,
  errorDomainName,
  errorLevelName,
} from '../../lib/constants';

const ROOT = path.resolve(__dirname, '../../..');
const GENERATOR = path.join(ROOT, 'scripts', 'gen-constants.js');
// scripts/libvirt-api.js, resolved from dist/test/unit, where this test runs.
const { apiXmlPath }: { apiXmlPath(): string } = require('../../../scripts/libvirt-api.js');

function generator(...args: string[]) {
  const r = spawnSync(process.execPath, [GENERATOR, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The XML's <enum> elements, read with a plain regex (not the generator's code).
interface XmlEnum {
  name: string;
  type: string;
  value: string;
}
const xml = fs.readFileSync(apiXmlPath(), 'utf8');
const xmlEnums: XmlEnum[] = [...xml.matchAll(/<enum\s+([^>]*?)\/>/g)].map((m) => {
  const attr = (k: string) => new RegExp(`\\b${k}='([^']*)'`).exec(m[1])?.[1] ?? '';
  return { name: attr('name'), type: attr('type'), value: attr('value') };
});
const xmlByName = new Map(xmlEnums.map((e) => [e.name, e]));
function xmlValue(name: string): number {
  const e = xmlByName.get(name);
  if (!e) throw new Error(`${name} is not in libvirt-api.xml`);
  return /^-?\d+$/.test(e.value) ? Number(e.value) : xmlValue(e.value);
}

t.test('lib/constants.ts is up to date (gen-constants.js --check)', async (t) => {
  const r = generator('--check');
  t.equal(r.status, 0, `gen-constants.js --check exit status\n${r.stderr}`);
});

t.test('known values', async (t) => {
  t.equal(LIBVIRT_API_VERSION, '9.0.0');
  t.equal(ErrorNumber.VIR_ERR_OK, 0);
  t.equal(ErrorNumber.VIR_ERR_NO_STORAGE_POOL, 49);
  t.equal(ErrorNumber.VIR_ERR_NO_STORAGE_VOL, 50);
  t.equal(ErrorNumber.VIR_ERR_NO_SECRET, 66);
  t.equal(ErrorNumber.VIR_ERR_NO_DOMAIN, 42);
  t.equal(ErrorDomain.VIR_FROM_RPC, 7);
  t.equal(ErrorDomain.VIR_FROM_STORAGE, 18);
  t.equal(ErrorLevel.VIR_ERR_ERROR, 2);
  t.equal(StoragePoolState.VIR_STORAGE_POOL_RUNNING, 2);
  t.equal(SecretUsageType.VIR_SECRET_USAGE_TYPE_ISCSI, 3);
  t.equal(SecretUsageType.VIR_SECRET_USAGE_TYPE_CEPH, 2);
  // Negative, bit 31, and a value the XML writes as another constant's name.
  t.equal(CPUCompareResult.VIR_CPU_COMPARE_ERROR, -1);
  t.equal(ConnectGetAllDomainStatsFlags.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS, 0x80000000);
  t.equal(DomainVcpuFlags.VIR_DOMAIN_VCPU_CONFIG, 2);
  // Macros.
  t.equal(constants.VIR_UUID_BUFLEN, 16);
  t.equal(constants.VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, Number.MAX_SAFE_INTEGER);
  t.equal(constants.VIR_KEYCODE_SET_RFB, KeycodeSet.VIR_KEYCODE_SET_QNUM);
  t.equal(constants.VIR_DOMAIN_BLKIO_WEIGHT, 'weight');
});

t.test('error names', async (t) => {
  t.equal(errorCodeName(49), 'VIR_ERR_NO_STORAGE_POOL');
  t.equal(errorCodeName(0), 'VIR_ERR_OK');
  t.equal(errorCodeName(48), 'VIR_WAR_NO_STORAGE', 'warnings keep their VIR_WAR_ names');
  t.equal(errorDomainName(7), 'VIR_FROM_RPC');
  t.equal(errorDomainName(0), 'VIR_FROM_NONE');
  t.equal(errorLevelName(0), 'VIR_ERR_NONE');
  t.equal(errorLevelName(1), 'VIR_ERR_WARNING');
  t.equal(errorLevelName(2), 'VIR_ERR_ERROR');
  for (const bad of [-1, 1.5, 100000, NaN]) {
    t.equal(errorCodeName(bad), undefined, `errorCodeName(${bad})`);
    t.equal(errorDomainName(bad), undefined, `errorDomainName(${bad})`);
    t.equal(errorLevelName(bad), undefined, `errorLevelName(${bad})`);
  }
  // Every code the XML knows decodes to its own name (no value has two names in these enums).
  for (const e of xmlEnums.filter((x) => x.type === 'virErrorNumber' && !x.name.endsWith('_LAST'))) {
    if (errorCodeName(Number(e.value)) !== e.name) t.fail(`errorCodeName(${e.value}) is not ${e.name}`);
  }
  for (const e of xmlEnums.filter((x) => x.type === 'virErrorDomain' && !x.name.endsWith('_LAST'))) {
    if (errorDomainName(Number(e.value)) !== e.name) t.fail(`errorDomainName(${e.value}) is not ${e.name}`);
  }
});

t.test('every enum member of the XML, and only those, with the XML value', async (t) => {
  const exported = constants as unknown as Record<string, Record<string, unknown>>;
  const seen = new Set<string>();
  const wrong: string[] = [];
  for (const e of xmlEnums) {
    const tsEnum = exported[e.type.replace(/^vir/, '')];
    if (!tsEnum) {
      wrong.push(`no enum for ${e.type}`);
      continue;
    }
    seen.add(e.type);
    const has = Object.prototype.hasOwnProperty.call(tsEnum, e.name);
    if (e.name.endsWith('_LAST')) {
      const max = Math.max(...xmlEnums.filter((x) => x.type === e.type).map((x) => xmlValue(x.name)));
      const sentinel = xmlValue(e.name) === max;
      if (sentinel === has) wrong.push(`${e.name}: ${sentinel ? 'sentinel present' : 'non-sentinel _LAST missing'}`);
    } else if (!has) wrong.push(`${e.name} missing`);
    else if (tsEnum[e.name] !== xmlValue(e.name)) {
      wrong.push(`${e.name} = ${tsEnum[e.name]}, XML ${xmlValue(e.name)}`);
    }
  }
  t.strictSame(wrong, [], wrong.join('\n'));
  t.ok(seen.size > 150, `enum types in the XML: ${seen.size}`);
  t.notOk('VIR_ERR_NUMBER_LAST' in ErrorNumber, 'sentinels are left out');
  t.notOk('VIR_DOMAIN_MEMORY_STAT_LAST' in DomainMemoryStatTags, 'a sentinel written as a name is left out');
  t.equal(NetworkUpdateCommand.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, 3, 'ADD_LAST is a real member');
  t.notOk('VIR_NETWORK_UPDATE_COMMAND_LAST' in NetworkUpdateCommand);
});

t.test('members are in value order, then name order', async (t) => {
  const src = fs.readFileSync(path.join(ROOT, 'lib', 'constants.ts'), 'utf8');
  const unordered: string[] = [];
  for (const m of src.matchAll(/^export enum (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const members = [...m[2].matchAll(/^ {2}(\w+) = (-?\d+),$/gm)].map((x) => ({ name: x[1], value: Number(x[2]) }));
    for (let i = 1; i < members.length; i++) {
      const a = members[i - 1];
      const b = members[i];
      if (a.value > b.value || (a.value === b.value && a.name > b.name)) {
        unordered.push(`${m[1]}: ${a.name} before ${b.name}`);
      }
    }
  }
  t.strictSame(unordered, []);
  t.notMatch(src, /\d{4}-\d{2}-\d{2}T/, 'no timestamp');
  t.match(src, /^\/\/ GENERATED FILE/, 'header says it is generated');
  t.match(src, /libvirt 9\.0\.0/, 'header names the libvirt version');
});

t.test('--check notices a stale file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-constants-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'constants.ts');

  const gen = generator('--file', file);
  t.equal(gen.status, 0, `generate into a temp file\n${gen.stderr}`);
  t.ok(
    fs.readFileSync(file, 'utf8') === fs.readFileSync(path.join(ROOT, 'lib', 'constants.ts'), 'utf8'),
    'same output as the committed file (deterministic)',
  );
  t.equal(generator('--check', '--file', file).status, 0, 'fresh copy passes');

  const fresh = fs.readFileSync(file, 'utf8');
  const cases: Array<[string, string, RegExp]> = [
    [
      'changed value',
      fresh.replace('VIR_ERR_NO_STORAGE_POOL = 49,', 'VIR_ERR_NO_STORAGE_POOL = 50,'),
      /enum ErrorNumber: member VIR_ERR_NO_STORAGE_POOL is 50 .* 49/,
    ],
    [
      'missing member',
      fresh.replace(/^ {2}VIR_FROM_RPC = 7,\n/m, ''),
      /enum ErrorDomain: member VIR_FROM_RPC \(= 7\) is missing/,
    ],
    [
      'extra member',
      fresh.replace('  VIR_STORAGE_POOL_RUNNING = 2,\n', '  VIR_STORAGE_POOL_RUNNING = 2,\n  VIR_STORAGE_POOL_BOGUS = 9,\n'),
      /enum StoragePoolState: member VIR_STORAGE_POOL_BOGUS is not in libvirt-api.xml/,
    ],
    [
      'comment only',
      fresh.replace('/** The libvirt version whose', '/** Edited: the libvirt version whose'),
      /line 10 differs/,
    ],
  ];
  for (const [what, text, why] of cases) {
    t.ok(text !== fresh, `${what}: the edit applies`);
    fs.writeFileSync(file, text);
    const r = generator('--check', '--file', file);
    t.equal(r.status, 1, `${what}: exit status 1`);
    t.match(r.stderr, why, `${what}: says what differs`);
    t.match(r.stderr, /npm run gen:constants/, `${what}: says how to fix it`);
  }

  fs.rmSync(file);
  const missing = generator('--check', '--file', file);
  t.equal(missing.status, 1, 'a missing file is stale');
  t.match(missing.stderr, /does not exist/);
});

t.test('the generator refuses values it cannot read', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'virtkit-constants-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const badXml = path.join(dir, 'api.xml');
  fs.writeFileSync(badXml, xml.replace("value='49'", "value='(1 &lt;&lt; 5) + 17'"));
  const r = generator('--xml', badXml, '--file', path.join(dir, 'out.ts'));
  t.not(r.status, 0, 'fails');
  t.match(r.stderr, /cannot read the value/);
  t.notOk(fs.existsSync(path.join(dir, 'out.ts')), 'writes nothing');
});
