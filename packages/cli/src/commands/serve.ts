import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaregapsError, achievementDay, formatDay } from '@caregaps/core';
import { DEMO_AGREEMENTS, DEMO_CARE_TEAMS, DEMO_SAMPLE, createServer, loadOidcConfig, oidcAuthenticator, openHost, type Authenticator } from '@caregaps/server';
import { auditLogOptions, openAuditSink, type AuditLogOptions } from '../audit-log.js';
import { EXIT, report, type Io } from '../io.js';
import { describeSources, registryFolderOptions, type Register } from '../command.js';


export interface ServeOptions extends AuditLogOptions {
  input?: string[];
  orgs?: string;
  asOf?: string;
  port: string;
  store?: string;
  principals?: string;
  careTeams?: string;
  agreements?: string;
  trend?: string[];
  optOuts?: string;
  oidcConfig?: string;
  oidcIssuer?: string;
  oidcClientId?: string;
  oidcClientSecretFile?: string;
  publicUrl?: string;
  demo?: boolean;
  registries: string;
  codesets: string;
  codesetsFrom?: string[];
  registry?: string[];
}

/** How a caller (a test) controls the server's life: when to stop, and where it listens. */
export interface ServeControl {
  /** Resolves when the server should close (default: SIGINT or SIGTERM). */
  stop?: Promise<unknown>;
  onListening?: (url: string) => void;
}

function stopSignal(): Promise<unknown> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/**
 * `caregaps serve`: loads the records into the engine, builds the access layer over it and serves the web UI and
 * `POST /fhir` on 127.0.0.1 until stopped.
 */
export async function serve(io: Io, options: ServeOptions, control: ServeControl = {}): Promise<number> {
  try {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CaregapsError('CG_USAGE', `--port must be a whole number from 0 to 65535, not ${options.port}`);
    const demo = options.demo === true;
    const input = options.input?.length ? options.input : demo ? [join(DEMO_SAMPLE.folder, 'records.ndjson')] : undefined;
    const asOf = options.asOf ?? (demo ? DEMO_SAMPLE.asOf : undefined);
    if (!input || !asOf) throw new CaregapsError('CG_USAGE', 'Give --input <records> and --as-of <date> (and usually --orgs <organisations>), or --demo for the bundled sample population');
    achievementDay(asOf);
    const orgs = options.orgs ?? (demo ? join(DEMO_SAMPLE.folder, 'organisations.ndjson') : undefined);
    const audit = options.audit ? options : demo ? demoAudit() : undefined;
    if (!audit) throw new CaregapsError('CG_USAGE', 'Give --audit <log> --audit-key <file> [--audit-checkpoint <file>]: every access is written to that log');
    const authenticator = await oidcFrom(options, port);
    const host = await openHost({
      records: input,
      ...(orgs ? { organisations: orgs } : {}),
      asOf,
      registries: options.registries,
      codesets: options.codesets,
      codesetSources: options.codesetsFrom ?? [],
      ...(options.registry ? { only: options.registry } : {}),
      ...(options.store ? { store: options.store } : {}),
      ...(options.principals ? { principals: options.principals } : {}),
      ...(authenticator ? { authenticator } : {}),
      ...withDemo('careTeams', options.careTeams, demo, DEMO_CARE_TEAMS),
      ...withDemo('agreements', options.agreements, demo, DEMO_AGREEMENTS),
      ...(options.optOuts ? { optOuts: options.optOuts } : {}),
      ...(options.trend ? { trendDates: options.trend.map((d) => formatDay(achievementDay(d.trim()))) } : {}),
      audit: await openAuditSink(audit),
    });
    describeSources(io, host.sources);
    io.err(`${host.accepted} records accepted, ${host.quarantined} quarantined; ${host.engine.patientCount} patients as of ${host.engine.asOf}\n`);
    const app = await createServer({ ...host, logger: false });
    try {
      const address = await app.listen({ host: '127.0.0.1', port });
      io.err(`audit log: ${audit.audit} (verify: caregaps audit verify ${audit.audit} --key ${audit.auditKey}${audit.auditCheckpoint ? ` --checkpoint ${audit.auditCheckpoint}` : ''})\n`);
      if (!host.authenticator.meta.production) io.err('sign-in: development principals (anyone may act as anyone): not for production\n');
      io.out(`Caregaps is serving ${address}\n`);
      control.onListening?.(address);
      await (control.stop ?? stopSignal());
    } finally {
      await app.close();
      host.engine.close();
    }
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

/** `{ [key]: file }` for a file given, or the demo's own with --demo; nothing otherwise. */
function withDemo<K extends string>(key: K, given: string | undefined, demo: boolean, demoFile: string): Partial<Record<K, string>> {
  const file = given ?? (demo ? demoFile : undefined);
  return file ? ({ [key]: file } as Record<K, string>) : {};
}

/** The OpenID Connect authenticator when any --oidc-* option is given (the provider is read now: a wrong issuer stops here). */
async function oidcFrom(options: ServeOptions, port: number): Promise<Authenticator | undefined> {
  if (!options.oidcConfig && !options.oidcIssuer && !options.oidcClientId && !options.oidcClientSecretFile) return undefined;
  if (options.principals) throw new CaregapsError('CG_USAGE', '--principals is for the development sign-in; it cannot be combined with OpenID Connect');
  if (!options.publicUrl && !options.oidcConfig && port === 0) throw new CaregapsError('CG_USAGE', 'With OpenID Connect and --port 0, give --public-url: the provider must know the callback address in advance');
  const config = loadOidcConfig(options.oidcConfig, {
    ...(options.oidcIssuer ? { issuer: options.oidcIssuer } : {}),
    ...(options.oidcClientId ? { clientId: options.oidcClientId } : {}),
    ...(options.oidcClientSecretFile ? { clientSecretFile: options.oidcClientSecretFile } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
  }, { publicUrl: `http://127.0.0.1:${port}` });
  return oidcAuthenticator(config);
}

/** For --demo without --audit: a keyed log in a temporary folder, its key and checkpoint in another. */
function demoAudit(): Required<Pick<AuditLogOptions, 'audit' | 'auditKey' | 'auditCheckpoint'>> {
  const logs = mkdtempSync(join(tmpdir(), 'caregaps-serve-audit-'));
  const keys = mkdtempSync(join(tmpdir(), 'caregaps-serve-key-'));
  const auditKey = join(keys, 'audit.key');
  writeFileSync(auditKey, randomBytes(32).toString('hex'), { mode: 0o600 });
  return { audit: join(logs, 'audit.ndjson'), auditKey, auditCheckpoint: join(keys, 'audit.checkpoint') };
}

/** `caregaps serve`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('serve')
    .description('serve dashboards, gap lists, patient records, live updates and FHIR intake on 127.0.0.1 (docs/serve.md)')
    .option('--input <file...>', 'records in format v1 (NDJSON)')
    .option('--orgs <file>', 'organisation records (NDJSON): the practice → PCN → borough → ICB hierarchy')
    .option('--as-of <date>', 'achievement date, YYYY-MM-DD')
    .option('--port <port>', 'port on 127.0.0.1 (0 picks a free one)', '8080')
    .option('--store <dir>', 'keep the engine state in this directory (durable; a restart resumes from it)')
    .option('--audit <file>', 'the keyed, append-only audit log of every access (NDJSON; with --demo, a temporary one by default)')
    .option('--principals <file>', 'principals for the development sign-in (default: the demo principals)')
    .option('--care-teams <file>', 'care teams (JSON): which patients are under which team\'s care (docs/serve.md)')
    .option('--agreements <file>', 'sharing agreements to start from (JSON, as saved by the access layer)')
    .option('--opt-outs <file>', 'the opt-out register (JSON): read at start if it exists, written after every change')
    .option('--trend <date...>', 'earlier achievement dates for the scorecard\'s trends (default: the four quarter ends before --as-of)')
    .option('--oidc-issuer <url>', 'sign in with OpenID Connect at this issuer (docs/serve.md#openid-connect)')
    .option('--oidc-client-id <id>', 'the client id registered with the OpenID provider')
    .option('--oidc-client-secret-file <file>', 'a file holding the client secret (without it: a public client with PKCE)')
    .option('--oidc-config <file>', 'OpenID Connect settings and claim mapping (JSON); the --oidc-* options override it')
    .option('--public-url <url>', 'the address users reach this server at (the OpenID callback is <url>/oidc/callback; default http://127.0.0.1:<port>)')
    .option('--demo', 'serve the bundled sample population with the demo principals');
  registryFolderOptions(auditLogOptions(command))
    .option('--registry <id...>', 'only these registries')
    .action(async (opts: ServeOptions) => exit(await serve(io, opts)));
};
