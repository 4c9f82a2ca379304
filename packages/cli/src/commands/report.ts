import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createReport } from '@caregaps/report';
import { CaregapsError } from '@caregaps/core';
import { EXIT, report as reportError, type Io } from '../io.js';
import { registryFolderOptions, type Register } from '../command.js';

export interface ReportCommandOptions {
  input: string;
  orgs: string;
  asOf: string;
  trend?: string;
  output: string;
  registries: string;
  codesets: string;
  codesetsFrom?: string[];
  registry?: string[];
  indicator?: string[];
  title?: string;
  quarantine?: string;
}

/** `caregaps report`: writes the anonymised population report (one self-contained HTML file). */
export async function report(io: Io, options: ReportCommandOptions): Promise<number> {
  try {
    const started = Date.now();
    const trend = options.trend === undefined ? [] : options.trend.split(',').map((d) => d.trim()).filter((d) => d !== '');
    if (options.trend !== undefined && trend.length === 0) throw new CaregapsError('CG_USAGE', '--trend needs one or more dates, YYYY-MM-DD, separated by commas');
    const result = await createReport({
      records: options.input,
      organisations: options.orgs,
      asOf: options.asOf,
      trend,
      registries: options.registries,
      codesets: options.codesets,
      codesetSources: options.codesetsFrom ?? [],
      ...(options.registry ? { only: options.registry } : {}),
      ...(options.indicator ? { indicators: options.indicator } : {}),
      ...(options.title ? { title: options.title } : {}),
      onProgress: (message) => io.err(`${message}\n`),
    });
    writeFileSync(options.output, result.html);
    const { quarantine } = result;
    if (options.quarantine) writeFileSync(options.quarantine, quarantine.items.map((q) => JSON.stringify(q)).join('\n') + (quarantine.size ? '\n' : ''));
    for (const q of quarantine.items.slice(0, 5)) io.err(`  ${q.file ?? ''}:${q.line}: ${q.reason} [${q.code}]\n`);
    for (const p of result.model.organisationProblems) io.err(`  organisation ${p.code}: ${p.reason}\n`);
    const model = result.model;
    io.err(
      `report for ${model.asOf} (${model.dates.length} achievement date${model.dates.length === 1 ? '' : 's'}, ${model.funnels.length} funnel plots) ` +
        `written to ${resolve(options.output)} (${(result.html.length / 1024).toFixed(0)} KiB) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return EXIT.ok;
  } catch (error) {
    return reportError(io, error);
  }
}

/** `caregaps report`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('report')
    .description('write the anonymised population report: one self-contained HTML page with tables, funnel plots and trends')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON)')
    .requiredOption('--orgs <file>', 'organisation records (NDJSON): practice → pcn → borough → icb')
    .requiredOption('--as-of <date>', 'achievement date of the tables and funnel plots, YYYY-MM-DD')
    .option('--trend <dates>', 'more achievement dates for the trends, comma-separated (e.g. the last day of each quarter)')
    .option('--output <file>', 'where to write the page', 'report.html');
  registryFolderOptions(command)
    .option('--registry <id...>', 'only these registries')
    .option('--indicator <id...>', 'funnel plots only for these indicators (default: all)')
    .option('--title <text>', 'the page title')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .action(async (opts: ReportCommandOptions) => exit(await report(io, opts)));
};
