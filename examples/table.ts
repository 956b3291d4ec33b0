import * as fs from 'node:fs';

/** Prints rows as an aligned text table (used by the examples). */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (r: string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** 1536 → '1.5 KiB'. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** The value of `--name VALUE` or `--name=VALUE` on the command line. */
export function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) return args[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** `--name N` as a positive integer, or `fallback`. */
export function positive(name: string, fallback: number): number {
  const v = Number(option(name) ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

/** An iSCSI target with one-way CHAP, as the test environment's env.json describes one. */
export interface EnvIscsiTarget {
  iqn: string;
  chap: { username: string; password: string } | null;
}

/**
 * The libvirt URI and iSCSI target an example works on: from --uri, --portal, --target,
 * --chap-user and --chap-password-file (a password is read from a file, never taken from the
 * command line), else from --env FILE through `fromEnv`, which picks the env.json part
 * (`target`: the --target given, if any).
 */
export function iscsiTargetOptions(
  example: string,
  fromEnv: (env: unknown, file: string, target: string | undefined) => { uri?: string; portal: string; target: EnvIscsiTarget },
): { uri: string | undefined; portal: string; target: string; chap: { username: string; password: string } | undefined } {
  const envFile = option('env');
  let uri = option('uri');
  let portal = option('portal');
  let target = option('target');
  let chapUser = option('chap-user');
  let chapPassword: string | undefined;
  if (envFile) {
    const found = fromEnv(JSON.parse(fs.readFileSync(envFile, 'utf8')), envFile, target);
    if (!found.target.chap) throw new Error(`${envFile}: target ${found.target.iqn} has no CHAP`);
    uri ??= found.uri;
    portal ??= found.portal;
    target ??= found.target.iqn;
    chapUser ??= found.target.chap.username;
    if (chapUser === found.target.chap.username) chapPassword = found.target.chap.password;
  }
  const file = option('chap-password-file');
  if (file) chapPassword = fs.readFileSync(file, 'utf8').replace(/\r?\n$/u, '');
  if (!portal || !target) throw new Error(`give --portal and --target (or --env FILE); see the comment at the top of examples/${example}.ts`);
  if (chapUser && chapPassword === undefined) throw new Error('--chap-user needs --chap-password-file');
  return { uri, portal, target, chap: chapUser ? { username: chapUser, password: chapPassword! } : undefined };
}
