#!/usr/bin/env node
// Writes test/coverage/unbound.tsv: the covered libvirt functions (see test/unit/coverage.test.ts;
// the selection and the native scan are shared with it in scripts/libvirt-api.js) that native/
// does not call yet, each with a reason.
//
//   node scripts/gen-unbound.js           add missing names, drop bound or unknown ones,
//                                         keep the reason of every entry already in the file
//   node scripts/gen-unbound.js --force   also rewrite existing reasons to the generated ones
//   options: --xml PATH (default: pkg-config --variable=libvirt_api libvirt)
//
// Comment lines other than the generated header are not kept: put notes in the reason.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { apiXmlPath, isCovered, nativeReferences } = require('./libvirt-api.js');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'coverage', 'unbound.tsv');

function decode(s) {
  return s.replace(/&(lt|gt|amp|apos|quot);/g, (_, e) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' })[e]);
}

/** name -> info text of every <function> in the API XML (for the generated reasons). */
function apiInfo(xmlPath) {
  const xml = fs.readFileSync(xmlPath, 'utf8');
  const out = new Map();
  for (const m of xml.matchAll(/<function\s+name=['"](\w+)['"][^>]*>([\s\S]*?)<\/function>/g)) {
    const info = /<info>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([\s\S]*?))<\/info>/.exec(m[2]);
    out.set(m[1], info ? (info[1] !== undefined ? info[1] : decode(info[2])).replace(/\s+/g, ' ') : '');
  }
  return out;
}

const STORAGE = 'not bound yet: storage issue (#3)';
const DOMAINS = 'not bound yet: domains and events issue (#4)';
const HOST = 'not bound yet: host and CPU-model API (no issue filed)';
const SCOPE = 'out of scope for virtkit (single-host storage workflows)';

/** Replacements libvirt itself names in the function's documentation. */
function deprecation(info) {
  let m = /Deprecated after [\d.]+\.? Renamed to (vir\w+)\(\)/.exec(info);
  if (m) return `deprecated by libvirt: use ${m[1]}`;
  m = new RegExp(
    String.raw`use of this (?:function|method) is (?:discouraged|no longer recommended)\.? ` +
      String.raw`Instead,? (?:use|applications should try) (vir\w+)\(\)`,
    'i',
  ).exec(info);
  if (m) return `discouraged by libvirt: use ${m[1]}`;
  return null;
}

/**
 * The count half of a discouraged list function (virConnectNumOfDomains for
 * virConnectListDomains): the libvirt docs do not flag these, but the list-all replacement
 * returns everything they count.
 */
function companionOf(name, api) {
  const special = {
    virDomainSnapshotNum: 'virDomainSnapshotListNames',
    virDomainSnapshotNumChildren: 'virDomainSnapshotListChildrenNames',
  };
  const list = special[name] || (name.includes('NumOf') ? name.replace('NumOf', 'List') : null);
  if (!list || !api.has(list)) return null;
  const d = deprecation(api.get(list));
  if (!d) return null;
  const use = d.replace(/^.*: use /, '');
  return `superseded: count the result of ${use} (libvirt discourages ${list})`;
}

function reasonFor(name, api) {
  if (name === 'virConnectOpen' || name === 'virConnectOpenReadOnly') {
    return 'covered by virConnectOpenAuth (readOnly option)';
  }
  const d = deprecation(api.get(name) || '') || companionOf(name, api);
  if (d) return d;
  if (/^virDomainMigrate/.test(name)) return `migration is ${SCOPE}`;
  if (/^virDomain(Get|Set)PerfEvents$/.test(name)) return `perf events are ${SCOPE}`;
  if (/^virDomain(Qemu|Lxc)/.test(name)) return `hypervisor passthrough is ${SCOPE}`;
  if (/^vir(StoragePool|StorageVol|Secret|Stream)/.test(name)) return STORAGE;
  if (/^virConnect\w*(StoragePool|Secret)/.test(name)) return STORAGE;
  if (/^virDomain/.test(name)) return DOMAINS;
  if (/^virConnect\w*(Domain|CloseCallback)/.test(name)) return DOMAINS;
  return HOST;
}

function readExisting() {
  const entries = new Map();
  if (!fs.existsSync(OUT)) return entries;
  for (const raw of fs.readFileSync(OUT, 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const tab = line.indexOf('\t');
    const name = (tab < 0 ? line : line.slice(0, tab)).trim();
    const reason = tab < 0 ? '' : line.slice(tab + 1).trim();
    if (name && !entries.has(name)) entries.set(name, reason);
  }
  return entries;
}

const HEADER = `# Covered libvirt functions that native/ does not call, each with the reason.
# Format: virFunctionName<TAB>reason. Checked by test/unit/coverage.test.ts (selection documented
# there). Maintained by \`node scripts/gen-unbound.js\`, which adds missing names and removes
# bound ones but keeps reasons edited by hand (--force regenerates them). Comment lines other
# than this header are not kept.
`;

function main() {
  const args = process.argv.slice(2);
  let force = false;
  let xml = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--force') force = true;
    else if (args[i] === '--xml' && args[i + 1]) xml = path.resolve(args[++i]);
    else {
      process.stderr.write(
        `gen-unbound: unknown argument '${args[i]}'\n` +
          'usage: node scripts/gen-unbound.js [--force] [--xml PATH]\n',
      );
      process.exit(2);
    }
  }
  const api = apiInfo(xml || apiXmlPath());
  const bound = nativeReferences(api);
  const existing = readExisting();
  const covered = [...api.keys()].filter(isCovered).sort();

  const lines = [];
  const stats = { added: 0, kept: 0, regenerated: 0 };
  for (const name of covered) {
    if (bound.has(name)) continue;
    const generated = reasonFor(name, api);
    const old = existing.get(name);
    if (old && !force) {
      lines.push(`${name}\t${old}`);
      stats.kept++;
    } else {
      lines.push(`${name}\t${generated}`);
      if (existing.has(name)) stats.regenerated++;
      else stats.added++;
    }
  }
  const removedBound = [...existing.keys()].filter((n) => bound.has(n)).sort();
  const removedOther = [...existing.keys()].filter((n) => !bound.has(n) && !(api.has(n) && isCovered(n))).sort();

  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, HEADER + lines.join('\n') + '\n');
  process.stdout.write(
    `gen-unbound: ${path.relative(ROOT, OUT)}: ${lines.length} listed of ${covered.length} covered ` +
      `(${covered.length - lines.length} bound); ${stats.added} added, ${stats.kept} kept, ` +
      `${stats.regenerated} reasons regenerated, ${removedBound.length} removed as bound` +
      `${removedBound.length ? ` (${removedBound.join(', ')})` : ''}, ${removedOther.length} removed as not covered` +
      `${removedOther.length ? ` (${removedOther.join(', ')})` : ''}.\n`,
  );
}

main();
