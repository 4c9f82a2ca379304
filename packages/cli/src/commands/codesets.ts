import { basename } from 'node:path';
import { BUNDLED_LAYER, CaregapsError, loadRegistries, provisionalReason, type Codeset, type LoadedRegistries } from '@caregaps/core';
import { EXIT, report, type Io } from '../io.js';
import { registryFolderOptions, type Register } from '../command.js';

export interface CodesetsOptions {
  registries: string;
  codesets: string;
  codesetsFrom?: string[];
  registry?: string[];
  format?: string;
}

/** One cluster a registry reads, with where its codes came from and how complete they are. */
export interface ClusterRow {
  cluster: string;
  status: Codeset['status'];
  codes: number;
  expected: number | null;
  expectedRelease: string | null;
  release: string;
  source: string;
  replaced: string | null;
}

/** A release as the table shows it: without the explanation in brackets some bundled files give (JSON keeps it). */
const short = (release: string) => release.split(' (')[0]!;

function rowOf(codeset: Codeset): ClusterRow {
  return {
    cluster: codeset.cluster,
    status: codeset.status,
    codes: codeset.codes.size,
    expected: codeset.expected?.count ?? null,
    expectedRelease: codeset.expected?.release ?? null,
    release: codeset.source.release,
    source: codeset.layer !== BUNDLED_LAYER && codeset.file && codeset.file !== codeset.layer ? `${codeset.layer} (${basename(codeset.file)})` : (codeset.layer ?? BUNDLED_LAYER),
    replaced: codeset.replaced ? `${codeset.replaced.layer} ${short(codeset.replaced.release)} (${codeset.replaced.count} codes)` : null,
  };
}

/** Per registry, every cluster it reads (sorted), and its provisional register and indicators. */
export function clusterListing(loaded: LoadedRegistries) {
  return loaded.compiled.map((r) => ({
    registry: r.id,
    clusters: [...r.clusters].map((n) => loaded.index.codeset(loaded.index.clusters[n]!)!).sort((a, b) => a.cluster.localeCompare(b.cluster)).map(rowOf),
    provisional: Object.fromEntries(
      [['register', r.provisional.register] as const, ...Object.entries(r.provisional.indicators)].filter(([, c]) => c.length).map(([id, c]) => [id, provisionalReason(c)]),
    ),
  }));
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** `caregaps codesets`: every cluster the registries read, with source, release, count, expected count and status. */
export function codesets(io: Io, options: CodesetsOptions): number {
  try {
    const format = options.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new CaregapsError('CG_USAGE', `--format must be text or json, not "${format}"`);
    const loaded = loadRegistries(options.registries, options.codesets, { ...(options.registry ? { only: options.registry } : {}), codesetSources: options.codesetsFrom ?? [] });
    const listing = clusterListing(loaded);
    const files = loaded.sources.map((s) => ({ source: s.path, files: s.files.map((f) => ({ ...f, file: basename(f.file) })) }));
    if (format === 'json') {
      io.out(JSON.stringify({ registries: listing, sources: files }, null, 2) + '\n');
      return EXIT.ok;
    }
    const lines: string[] = [];
    for (const r of listing) {
      lines.push(`${r.registry}`);
      const header = ['  cluster', 'status', 'codes', 'expected', 'release', 'source'];
      const rows = r.clusters.map((c) => [
        `  ${c.cluster}`,
        c.status,
        String(c.codes),
        c.expected === null ? '–' : `${c.expected} (${c.expectedRelease})`,
        short(c.release),
        `${c.source}${c.replaced ? `, replacing ${c.replaced}` : ''}`,
      ]);
      lines.push(...pad([header, ...rows]));
      for (const [id, reason] of Object.entries(r.provisional)) lines.push(`  * ${id} provisional: ${reason}`);
      lines.push('');
    }
    for (const source of files) {
      lines.push(`codeset source ${source.source}`);
      for (const f of source.files) {
        lines.push(`  ${f.file}: ${f.kind}${f.clusters.length ? ` — ${f.clusters.length > 8 ? `${f.clusters.length} clusters` : f.clusters.join(', ')}` : ''}${f.note ? ` (${f.note})` : ''}`);
      }
      lines.push('');
    }
    io.out(lines.join('\n'));
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps codesets`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('codesets')
    .description('list every cluster the registries read: source, release, codes, expected count and status (complete, partial, missing, substitute)')
    .option('--registry <id...>', 'only these registries')
    .option('--format <format>', 'text or json', 'text');
  registryFolderOptions(command).action((opts: CodesetsOptions) => exit(codesets(io, opts)));
};
