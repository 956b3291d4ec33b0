#!/usr/bin/env node
// Generates lib/constants.ts from libvirt's API description (libvirt-api.xml): one TypeScript
// enum per libvirt enum type, the simple integer and string macros, and the error-name helpers.
//
//   node scripts/gen-constants.js                 write lib/constants.ts (npm run gen:constants)
//   node scripts/gen-constants.js --check         exit 1, naming what differs, if it is stale
//   options: --file PATH   the TypeScript file to write or check (default lib/constants.ts)
//            --xml PATH    the API XML (default: pkg-config --variable=libvirt_api libvirt,
//                          else /usr/share/libvirt/api/libvirt-api.xml)
//
// Plain Node, no dependencies: libvirt-api.xml is machine-written by libvirt's apibuild.py in
// a regular shape, so a small attribute-aware scanner reads it. Anything it cannot read
// exactly (an enum value that is neither a number nor another enum's name, a count mismatch)
// stops the generator with an error instead of emitting a guess.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { FALLBACK_XML, apiXmlPath, pkgConfig } = require('./libvirt-api.js');

const REPO = path.resolve(__dirname, '..');
const DEFAULT_OUT = path.join(REPO, 'lib', 'constants.ts');
const COMMAND = 'node scripts/gen-constants.js';
const REGEN_HINT = 'Run `npm run gen:constants` (node scripts/gen-constants.js) to regenerate it.';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(why) {
  process.stderr.write(
    `gen-constants: ${why}\n` +
      'usage: node scripts/gen-constants.js [--check] [--file PATH] [--xml PATH]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { check: false, file: DEFAULT_OUT, xml: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') opts.check = true;
    else if (a === '--file' || a === '--xml') {
      const v = argv[++i];
      if (!v) usage(`${a} needs a path`);
      opts[a.slice(2)] = path.resolve(v);
    } else if (a === '-h' || a === '--help') usage('help');
    else usage(`unknown argument '${a}'`);
  }
  return opts;
}

function locateXml() {
  const p = apiXmlPath();
  if (fs.existsSync(p)) return p;
  const fromPkg = pkgConfig(['--variable=libvirt_api', 'libvirt']);
  throw new Error(
    'cannot find libvirt-api.xml (pkg-config --variable=libvirt_api libvirt gave ' +
      `${fromPkg ? `'${fromPkg}', which does not exist` : 'nothing'}, and ${FALLBACK_XML} is missing). ` +
      'Install libvirt-dev (Debian) or pass --xml PATH.',
  );
}

// ---------------------------------------------------------------------------------------------
// Reading libvirt-api.xml

const ATTRS = String.raw`((?:\s+[\w:-]+\s*=\s*(?:'[^']*'|"[^"]*"))*)`;

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|apos|quot);/g, (_, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : +e.slice(1));
    return { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' }[e];
  });
}

function parseAttrs(s) {
  const out = {};
  for (const m of s.matchAll(/([\w:-]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g)) {
    out[m[1]] = decodeEntities(m[2] !== undefined ? m[2] : m[3]);
  }
  return out;
}

function infoOf(body) {
  if (!body) return '';
  const m = /<info>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([\s\S]*?))<\/info>/.exec(body);
  if (!m) return '';
  return m[1] !== undefined ? m[1] : decodeEntities(m[2]);
}

/** Every `<tag ...>` element: its attributes and (for non-empty elements) its <info> text. */
function elements(xml, tag) {
  const re = new RegExp(`<${tag}${ATTRS}\\s*(?:/>|>([\\s\\S]*?)</${tag}>)`, 'g');
  const found = [...xml.matchAll(re)].map((m) => ({ ...parseAttrs(m[1]), info: infoOf(m[2]) }));
  const opened = (xml.match(new RegExp(`<${tag}\\s`, 'g')) || []).length;
  if (found.length !== opened) {
    throw new Error(`libvirt-api.xml: read ${found.length} <${tag}> elements but it has ${opened}; ` +
      'the XML has a shape this generator does not know');
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Building the model

/** libvirt type name to TypeScript enum name: virErrorNumber -> ErrorNumber. */
function tsEnumName(type) {
  if (!/^vir[A-Z]\w*$/.test(type)) throw new Error(`libvirt-api.xml: enum type '${type}' does not start with vir`);
  return type.slice(3);
}

function parseInteger(text) {
  const t = text.trim();
  if (/^-?(0|[1-9][0-9]*)$/.test(t)) return Number(t);
  if (/^-?0[xX][0-9a-fA-F]+$/.test(t)) return t[0] === '-' ? -Number(t.slice(1)) : Number(t);
  return undefined;
}

/**
 * The members of each enum type with numeric values. Values written as another constant's
 * name (VIR_DOMAIN_VCPU_LIVE = VIR_DOMAIN_AFFECT_LIVE) are resolved; anything else throws.
 */
function buildEnums(rawEnums, typedefs) {
  const byName = new Map(rawEnums.map((e) => [e.name, e]));
  const resolved = new Map();
  function valueOf(name, seen) {
    if (resolved.has(name)) return resolved.get(name);
    const e = byName.get(name);
    if (!e) throw new Error(`libvirt-api.xml: enum value refers to unknown constant '${name}'`);
    if (seen.has(name)) throw new Error(`libvirt-api.xml: enum value cycle through '${name}'`);
    seen.add(name);
    let v = parseInteger(e.value);
    if (v === undefined) {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(e.value.trim())) {
        throw new Error(`libvirt-api.xml: cannot read the value '${e.value}' of ${e.name}`);
      }
      v = valueOf(e.value.trim(), seen);
    }
    if (e.value_hex !== undefined && parseInteger(e.value_hex) !== v) {
      throw new Error(`libvirt-api.xml: ${e.name} has value ${v} but value_hex ${e.value_hex}`);
    }
    if (!Number.isSafeInteger(v)) throw new Error(`libvirt-api.xml: ${e.name} = ${v} is not a safe integer`);
    resolved.set(name, v);
    return v;
  }

  const groups = new Map();
  for (const e of rawEnums) {
    if (!groups.has(e.type)) groups.set(e.type, []);
    groups.get(e.type).push({ name: e.name, value: valueOf(e.name, new Set()), info: e.info || '' });
  }
  const typedefInfo = new Map(typedefs.map((t) => [t.name, t]));

  const enums = [];
  const skipped = [];
  for (const [type, all] of groups) {
    // A `_LAST` member is the unstable "number of values" sentinel when it is the largest value
    // of its enum. (Not every `_LAST` is one: VIR_NETWORK_UPDATE_COMMAND_ADD_LAST = 3 means
    // "add at the end", and the sentinel of that enum is VIR_NETWORK_UPDATE_COMMAND_LAST = 5.)
    const max = Math.max(...all.map((m) => m.value));
    const members = [];
    for (const m of all) {
      if (m.name.endsWith('_LAST') && m.value === max) skipped.push(m.name);
      else members.push(m);
    }
    members.sort((a, b) => a.value - b.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const td = typedefInfo.get(type) || {};
    enums.push({ type, name: tsEnumName(type), file: td.file || all[0].file, info: td.info || '', members });
  }
  enums.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  skipped.sort();
  return { enums, skipped, valueOf: (n) => resolved.get(n) };
}

/**
 * Tiny evaluator for object-like integer macros: integer literals (C suffixes dropped), names of
 * other integer macros or enum members, + - * / and parentheses. Returns undefined otherwise.
 */
function evalMacro(raw, lookup) {
  const src = raw.replace(/\/\*[\s\S]*?\*\//g, ' ').trim();
  const tokens = src.match(/0[xX][0-9a-fA-F]+[uUlL]*|[0-9]+[uUlL]*|[A-Za-z_]\w*|[-+*/()]|\S/g);
  if (!tokens) return undefined;
  let i = 0;
  const peek = () => tokens[i];
  function primary() {
    const t = tokens[i++];
    if (t === undefined) return undefined;
    if (t === '(') {
      const v = sum();
      return tokens[i++] === ')' ? v : undefined;
    }
    if (t === '-') {
      const v = primary();
      return v === undefined ? undefined : -v;
    }
    if (/^[0-9]/.test(t)) return parseInteger(t.replace(/[uUlL]+$/, ''));
    if (/^[A-Za-z_]/.test(t)) return lookup(t);
    return undefined;
  }
  function product() {
    let v = primary();
    while (v !== undefined && (peek() === '*' || peek() === '/')) {
      const op = tokens[i++];
      const r = primary();
      if (r === undefined || (op === '/' && r === 0)) return undefined;
      v = op === '*' ? v * r : Math.trunc(v / r);
    }
    return v;
  }
  function sum() {
    let v = product();
    while (v !== undefined && (peek() === '+' || peek() === '-')) {
      const op = tokens[i++];
      const r = product();
      if (r === undefined) return undefined;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }
  const v = sum();
  return i === tokens.length && Number.isInteger(v) ? v : undefined;
}

/** Macros that are plain values: integer expressions, and strings (typed-parameter names). */
function buildMacros(rawMacros, enumsModel) {
  const enumOwner = new Map();
  for (const e of enumsModel.enums) for (const m of e.members) enumOwner.set(m.name, e.name);
  const byName = new Map(rawMacros.map((m) => [m.name, m]));
  const ints = new Map();
  const skipped = [];

  const SKIP_WHY = {
    // Build-time version of the headers; LIBVIRT_API_VERSION says the same as a string.
    LIBVIR_VERSION_NUMBER: 'the headers\' version: see LIBVIRT_API_VERSION',
  };
  function intValue(name, seen = new Set()) {
    if (ints.has(name)) return ints.get(name).value;
    if (enumOwner.has(name)) return enumsModel.valueOf(name);
    const m = byName.get(name);
    if (!m || m.params !== undefined || m.string !== undefined || m.raw === undefined) return undefined;
    if (seen.has(name)) return undefined;
    seen.add(name);
    return evalMacro(m.raw, (n) => intValue(n, seen));
  }

  const strings = [];
  for (const m of [...rawMacros].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (SKIP_WHY[m.name]) {
      skipped.push({ name: m.name, why: SKIP_WHY[m.name] });
    } else if (m.string !== undefined) {
      strings.push({ name: m.name, value: m.string, info: m.info });
    } else if (m.params !== undefined) {
      skipped.push({ name: m.name, why: 'function-like' });
    } else if (!/^VIR_/.test(m.name)) {
      skipped.push({ name: m.name, why: 'a C type alias' });
    } else {
      const value = intValue(m.name);
      if (value === undefined) skipped.push({ name: m.name, why: `not an integer expression: ${m.raw}` });
      else if (!Number.isSafeInteger(value)) skipped.push({ name: m.name, why: 'beyond Number.MAX_SAFE_INTEGER' });
      else {
        const alias = m.raw.trim();
        ints.set(m.name, {
          name: m.name,
          value,
          info: m.info,
          enumRef: enumOwner.has(alias) ? `${enumOwner.get(alias)}.${alias}` : null,
        });
      }
    }
  }
  return { ints: [...ints.values()], strings, skipped };
}

function apiVersion(rawMacros) {
  const m = rawMacros.find((x) => x.name === 'LIBVIR_VERSION_NUMBER');
  const n = m && parseInteger(m.raw || '');
  const fromXml = n ? `${Math.floor(n / 1000000)}.${Math.floor(n / 1000) % 1000}.${n % 1000}` : '';
  const fromPkg = pkgConfig(['--modversion', 'libvirt']);
  if (fromXml && fromPkg && fromXml !== fromPkg) {
    process.stderr.write(
      `gen-constants: note: the XML describes libvirt ${fromXml}, pkg-config says ${fromPkg}; using ${fromXml}\n`,
    );
  }
  const v = fromXml || fromPkg;
  if (!v) throw new Error('cannot tell the libvirt version: no LIBVIR_VERSION_NUMBER in the XML and no pkg-config');
  return v;
}

// ---------------------------------------------------------------------------------------------
// Writing TypeScript

function oneLine(text) {
  return text.replace(/\s+/g, ' ').trim().replace(/\*\//g, '*\\/');
}

function wrap(text, width) {
  const words = oneLine(text).split(' ');
  const lines = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

function docBlock(indent, paragraphs) {
  const lines = [];
  for (const p of paragraphs.filter(Boolean)) {
    if (lines.length) lines.push('');
    lines.push(...wrap(p, 96 - indent.length));
  }
  if (lines.length === 0) return [];
  if (lines.length === 1) return [`${indent}/** ${lines[0]} */`];
  return [`${indent}/**`, ...lines.map((l) => (l ? `${indent} * ${l}` : `${indent} *`)), `${indent} */`];
}

function docLink(file, symbol) {
  return `@see https://libvirt.org/html/libvirt-${file}.html#${symbol}`;
}

function quote(s) {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

function render(model) {
  const { version, enums, macros } = model;
  const out = [];
  out.push(
    '// GENERATED FILE - do not edit by hand.',
    `// Generated by \`${COMMAND}\` (npm run gen:constants) from libvirt-api.xml of libvirt ${version}.`,
    `// \`${COMMAND} --check\` (run by test/unit/constants.test.ts) fails when this file is stale.`,
    '//',
    '// One enum per libvirt enum type, named without the leading `vir` (virErrorNumber -> ErrorNumber);',
    '// members keep libvirt\'s constant names and are ordered by value, then name. The `*_LAST`',
    '// sentinels are left out: their value grows with every libvirt release.',
    `// Skipped *_LAST sentinels: ${enums.skipped.length}.`,
    '',
    '/** The libvirt version whose libvirt-api.xml this file was generated from. */',
    `export const LIBVIRT_API_VERSION = ${quote(version)};`,
    '',
  );

  for (const e of enums.enums) {
    out.push(...docBlock('', [e.info, docLink(e.file, e.type)]));
    out.push(`export enum ${e.name} {`);
    for (const m of e.members) {
      if (m.info) out.push(`  /** ${oneLine(m.info)} */`);
      out.push(`  ${m.name} = ${m.value},`);
    }
    out.push('}', '');
  }

  out.push(
    '// ---------------------------------------------------------------------------------------------',
    '// Object-like macros with an integer value (limits and aliases).',
    '// Not emitted:',
  );
  for (const s of macros.skipped) out.push(`//   ${s.name}: ${oneLine(s.why)}`);
  out.push('');
  for (const m of macros.ints) {
    out.push(...docBlock('', [m.info]));
    out.push(`export const ${m.name} = ${m.enumRef || m.value};`, '');
  }
  out.push(
    '// ---------------------------------------------------------------------------------------------',
    '// String macros: names of typed parameters, statistics fields and identity fields.',
    '',
  );
  for (const m of macros.strings) {
    out.push(...docBlock('', [m.info]));
    out.push(`export const ${m.name} = ${quote(m.value)};`, '');
  }

  out.push(
    '// ---------------------------------------------------------------------------------------------',
    '// Error decoding (hand-written in scripts/gen-constants.js).',
    '',
    '/** Value -> first member name in declaration order (value order, then name). */',
    'function firstNames(e: Record<string, string | number>): ReadonlyMap<number, string> {',
    '  const names = new Map<number, string>();',
    '  for (const [name, value] of Object.entries(e)) {',
    "    if (typeof value === 'number' && !names.has(value)) names.set(value, name);",
    '  }',
    '  return names;',
    '}',
    '',
    'const errorCodeNames = firstNames(ErrorNumber);',
    'const errorDomainNames = firstNames(ErrorDomain);',
    'const errorLevelNames = firstNames(ErrorLevel);',
    '',
    "/** libvirt's name for an error code (`virError.code`): 49 -> 'VIR_ERR_NO_STORAGE_POOL'. */",
    'export function errorCodeName(code: number): string | undefined {',
    '  return errorCodeNames.get(code);',
    '}',
    '',
    "/** libvirt's name for an error domain (`virError.domain`): 7 -> 'VIR_FROM_RPC'. */",
    'export function errorDomainName(domain: number): string | undefined {',
    '  return errorDomainNames.get(domain);',
    '}',
    '',
    "/** libvirt's name for an error level (`virError.level`): 2 -> 'VIR_ERR_ERROR'. */",
    'export function errorLevelName(level: number): string | undefined {',
    '  return errorLevelNames.get(level);',
    '}',
    '',
  );
  return out.join('\n');
}

function generate(xmlPath) {
  const xml = fs.readFileSync(xmlPath, 'utf8');
  const rawEnums = elements(xml, 'enum');
  const typedefs = elements(xml, 'typedef');
  const rawMacros = elements(xml, 'macro');
  const enums = buildEnums(rawEnums, typedefs);
  for (const need of ['ErrorNumber', 'ErrorDomain', 'ErrorLevel']) {
    if (!enums.enums.some((e) => e.name === need)) throw new Error(`libvirt-api.xml has no vir${need} enum`);
  }
  const macros = buildMacros(rawMacros, enums);
  const model = { version: apiVersion(rawMacros), enums, macros };
  return { text: render(model), model };
}

// ---------------------------------------------------------------------------------------------
// --check: say what differs, in terms of enums and members where possible

/** Enums, members and consts as written in a generated file (the shape render() writes). */
function readBack(text) {
  const enums = new Map();
  for (const m of text.matchAll(/^export enum (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const members = new Map();
    for (const mm of m[2].matchAll(/^\s+(\w+) = (-?\d+),$/gm)) members.set(mm[1], mm[2]);
    enums.set(m[1], members);
  }
  const consts = new Map();
  for (const m of text.matchAll(/^export const (\w+) = (.*);$/gm)) consts.set(m[1], m[2]);
  return { enums, consts };
}

function differences(expectedText, actualText, label) {
  const want = readBack(expectedText);
  const have = readBack(actualText);
  const diffs = [];
  for (const [name, members] of want.enums) {
    const got = have.enums.get(name);
    if (!got) {
      diffs.push(`enum ${name} is missing`);
      continue;
    }
    for (const [m, v] of members) {
      if (!got.has(m)) diffs.push(`enum ${name}: member ${m} (= ${v}) is missing`);
      else if (got.get(m) !== v) {
        diffs.push(`enum ${name}: member ${m} is ${got.get(m)} in ${label}, ${v} in libvirt-api.xml`);
      }
    }
    for (const m of got.keys()) {
      if (!members.has(m)) diffs.push(`enum ${name}: member ${m} is not in libvirt-api.xml`);
    }
  }
  for (const name of have.enums.keys()) {
    if (!want.enums.has(name)) diffs.push(`enum ${name} is not in libvirt-api.xml`);
  }
  for (const [name, v] of want.consts) {
    if (!have.consts.has(name)) diffs.push(`const ${name} is missing`);
    else if (have.consts.get(name) !== v) {
      diffs.push(`const ${name} is ${have.consts.get(name)} in ${label}, ${v} expected`);
    }
  }
  for (const name of have.consts.keys()) if (!want.consts.has(name)) diffs.push(`const ${name} is not expected`);
  if (diffs.length === 0) {
    // Same enums and values: the difference is in comments, order or layout.
    const a = expectedText.split('\n');
    const b = actualText.split('\n');
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    const show = (l) => (l === undefined ? '<end of file>' : l);
    diffs.push(
      `line ${i + 1} differs (comments, order or layout):\n` +
        `      expected: ${show(a[i])}\n      found:    ${show(b[i])}`,
    );
  }
  return diffs;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const xmlPath = opts.xml || locateXml();
  const { text, model } = generate(xmlPath);
  const label = path.relative(REPO, opts.file).startsWith('..') ? opts.file : path.relative(REPO, opts.file);

  if (opts.check) {
    if (!fs.existsSync(opts.file)) {
      process.stderr.write(`gen-constants: ${label} does not exist.\n${REGEN_HINT}\n`);
      process.exit(1);
    }
    const actual = fs.readFileSync(opts.file, 'utf8');
    if (actual === text) {
      process.stdout.write(`gen-constants: ${label} is up to date with ${xmlPath} (libvirt ${model.version}).\n`);
      return;
    }
    const diffs = differences(text, actual, label);
    const MAX = 20;
    process.stderr.write(
      `gen-constants: ${label} is stale against ${xmlPath} (libvirt ${model.version}):\n` +
        diffs.slice(0, MAX).map((d) => `  - ${d}\n`).join('') +
        (diffs.length > MAX ? `  ... and ${diffs.length - MAX} more\n` : '') +
        `${REGEN_HINT}\n`,
    );
    process.exit(1);
  }

  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  fs.writeFileSync(opts.file, text);
  const members = model.enums.enums.reduce((n, e) => n + e.members.length, 0);
  process.stdout.write(
    `gen-constants: wrote ${label} from ${xmlPath} (libvirt ${model.version}): ` +
      `${model.enums.enums.length} enums, ${members} members ` +
      `(${model.enums.skipped.length} *_LAST sentinels skipped), ` +
      `${model.macros.ints.length} integer and ${model.macros.strings.length} string macros ` +
      `(${model.macros.skipped.length} macros skipped).\n`,
  );
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`gen-constants: ${e.message}\n`);
    process.exit(2);
  }
}

module.exports = { generate };
