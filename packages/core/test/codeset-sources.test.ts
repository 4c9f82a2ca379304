// Codeset sources in their published layouts, layered over the bundled codesets, and provisional flags computed
// from the clusters rules read. Fixtures are written to a temporary folder; every code in them is read from the
// bundled codesets (codesets/DM_COD.csv, codesets/DMRES_COD.csv, codesets/IFCCHBAM_COD.csv), never typed in.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CaregapsError,
  CodesetIndex,
  CompiledRegistry,
  layerCodesets,
  loadCodesets,
  loadRegistries,
  parseRegistry,
  provisionalReason,
  readCodesetSource,
  type Codeset,
} from '@caregaps/core';

const CODESETS = fileURLToPath(new URL('../../../codesets', import.meta.url));
const bundled = loadCodesets(CODESETS);
const bundledOf = (cluster: string) => bundled.find((c) => c.cluster === cluster)!;
const DM = [...bundledOf('DM_COD').codes.keys()];
const DMRES = [...bundledOf('DMRES_COD').codes.keys()];
const HBA1C = [...bundledOf('IFCCHBAM_COD').codes.keys()];
const DM_REFSET = bundledOf('DM_COD').refset;

function folder(files: Record<string, string>, name = 'release-20240531'): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'cg-sources-')), name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

function problemsOf(fn: () => unknown): readonly { code: string; file?: string; line?: number }[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof CaregapsError) return error.problems.length ? error.problems : [{ code: error.code }];
    throw error;
  }
  throw new Error('expected a CaregapsError');
}

const PCD_HEADER = 'Output_ID\tCluster_ID\tCluster_Description\tSNOMED_code\tSNOMED_code_description\tPCD Refset ID\n';
const pcdRow = (output: string, cluster: string, code: string) => `${output}\t${cluster}\tDescription of ${cluster}\t${code}\tterm ${code}\t${bundled.find((c) => c.cluster === cluster)?.refset ?? ''}\n`;

describe('the PCD release layout (refset content by output)', () => {
  it('reads each cluster once across outputs, with its refset id, title and the release from the folder name', () => {
    const dir = folder({
      'refset_content.tsv': PCD_HEADER + pcdRow('DM_REG', 'DM_COD', DM[0]!) + pcdRow('DM_REG', 'DM_COD', DM[1]!) + pcdRow('DM017', 'DM_COD', DM[0]!),
    });
    const source = readCodesetSource(dir);
    expect(source.codesets).toHaveLength(1);
    const dm = source.codesets[0]!;
    expect([dm.cluster, dm.refset, dm.title, dm.source.release, dm.codes.size]).toEqual(['DM_COD', DM_REFSET, 'Description of DM_COD', '20240531', 2]);
    expect(source.files[0]).toMatchObject({ kind: 'pcd-refset-content', clusters: ['DM_COD'] });
  });

  it('takes rows for drug refsets the PCD team does not maintain as names, not bad lines', () => {
    const dir = folder({
      'content.tsv': PCD_HEADER + pcdRow('DM_REG', 'DM_COD', DM[0]!) + 'AST_REG\tASTTRT_COD\tAsthma-related drug treatment codes\tCheck the SNOMED browser for refset content\tRefset not managed or maintained by the PCD team\t12463601000001108\n',
    });
    const source = readCodesetSource(dir);
    expect(source.codesets.map((c) => c.cluster)).toEqual(['DM_COD']);
    expect(source.external.get('ASTTRT_COD')).toBe('12463601000001108');
    expect(source.files[0]!.note).toMatch(/ASTTRT_COD/);
  });

  it('reports every bad line with file:line and loads nothing', () => {
    const dir = folder({
      'content.tsv': PCD_HEADER + pcdRow('DM_REG', 'DM_COD', DM[0]!) + pcdRow('DM_REG', 'DM_COD', '1.95E+16') + pcdRow('DM_REG', 'dm cod', DM[1]!) + `DM_REG\tDM_COD\tx\t${DM[2]}\tt\t123456789\n`,
    });
    const problems = problemsOf(() => readCodesetSource(dir));
    expect(problems.map((p) => [p.code, p.line])).toEqual([
      ['CG_CODESET_FORMAT', 3],
      ['CG_CODESET_FORMAT', 4],
      ['CG_CODESET_FORMAT', 5],
    ]);
    expect(problems[0]!.file).toBe(join(dir, 'content.tsv'));
  });
});

describe('completeness from a release member count', () => {
  const counts = (n: number) => `Cluster_ID\tCluster_description\tn\nDM_COD\tDiabetes\t${n}\n`;
  const list = (codes: string[]) => 'code,term\n' + codes.map((c) => `${c},term\n`).join('');

  it('a copy with fewer members than the release count is partial; as many is complete', () => {
    const partial = readCodesetSource(folder({ 'cluster_sizes.tsv': counts(3), 'DM_COD.csv': list(DM.slice(0, 2)) }));
    const [dm] = layerCodesets([], [partial]);
    expect([dm!.status, dm!.codes.size, dm!.expected?.count, dm!.expected?.release]).toEqual(['partial', 2, 3, '20240531']);
    const complete = readCodesetSource(folder({ 'cluster_sizes.tsv': counts(2), 'DM_COD.csv': list(DM.slice(0, 2)) }));
    expect(layerCodesets([], [complete])[0]!.status).toBe('complete');
  });

  it('a copy of a later release may hold fewer members (members are retired) and stays complete', () => {
    const counted = readCodesetSource(folder({ 'cluster_sizes.tsv': counts(DM.length + 5) }, 'pcd-20240531'));
    const [dm] = layerCodesets([bundledOf('DM_COD')], [counted]);
    expect(bundledOf('DM_COD').source.release > '20240531').toBe(true);
    expect(dm!.status).toBe('complete');
    // An older copy with fewer members than the count is stale: partial.
    const older: Codeset = { ...bundledOf('DM_COD'), source: { ...bundledOf('DM_COD').source, release: '20200812' } };
    expect(layerCodesets([older], [counted])[0]!.status).toBe('partial');
  });

  it('a member count that is not a whole number is a bad line', () => {
    const problems = problemsOf(() => readCodesetSource(folder({ 'cluster_sizes.tsv': 'Cluster_ID\tn\nDM_COD\tmany\n' })));
    expect(problems).toEqual([expect.objectContaining({ code: 'CG_CODESET_FORMAT', line: 2 })]);
  });
});

describe('code lists, manifests and substitutes', () => {
  it('an OpenCodelists export named <CLUSTER>.csv fills that cluster; MANIFEST.tsv beside it gives provenance and an expected count', () => {
    const dir = folder({
      'DM_COD.csv': 'code,term\n' + DM.slice(0, 3).map((c) => `${c},"a term, with a comma"\n`).join(''),
      'MANIFEST.tsv': `cluster\topencodelists_id\turl\tpcd20240531_n\tpcd_refset_id\nDM_COD\tnhsd-primary-care-domain-refsets/dm_cod/20200812\thttps://example.org/dm_cod\t${DM.length}\t${DM_REFSET} (from codesets/ header)\n`,
    });
    const [dm] = layerCodesets([], [readCodesetSource(dir)]);
    expect(dm).toMatchObject({ cluster: 'DM_COD', refset: DM_REFSET, status: 'partial', source: { release: '20200812', url: 'https://example.org/dm_cod' } });
    expect(dm!.codes.get(DM[0]!)).toBe('a term, with a comma');
    expect(dm!.expected?.count).toBe(DM.length);
  });

  it('a list a substitutes manifest (target column) names is a substitute; a part of a cluster fills nothing', () => {
    const dir = folder({
      'other-org-diabetes.txt': DM.slice(0, 2).map((c) => `${c}\tterm\n`).join(''),
      'other-org-part.csv': 'code,term\n' + DM.slice(0, 1).map((c) => `${c},t\n`).join(''),
      'MANIFEST.tsv': 'target\tfile\tlist_id\nDM_COD\tother-org-diabetes.txt\tother/diabetes/1\nDMRES_COD (part)\tother-org-part.csv\tother/part/1\n',
    });
    const source = readCodesetSource(dir);
    expect(source.codesets.map((c) => [c.cluster, c.status, c.codes.size])).toEqual([['DM_COD', 'substitute', 2]]);
    expect(source.files.find((f) => f.file.endsWith('other-org-part.csv'))!.note).toMatch(/not one whole cluster/);
  });

  it('a dm+d refset list named <CLUSTER>-<refset>-… is that cluster own refset; the manifest above its folder gives provenance', () => {
    const refset = bundledOf('DMRES_COD').refset;
    const name = `DMRES_COD-${refset}-resolved.csv`;
    const parent = folder({ 'MANIFEST.tsv': `target\tfile\tlist_id\nDMRES_COD\tderived/${name}\tderived\n` });
    const dir = join(parent, 'refsets-20231025');
    mkdirSync(dir);
    writeFileSync(join(dir, name), `code,term,also_in_inactiveConcepts_list\n${DMRES[0]},t,N\n`);
    const [res] = readCodesetSource(dir).codesets;
    expect([res!.cluster, res!.status, res!.refset, res!.source.release]).toEqual(['DMRES_COD', 'complete', refset, '20231025']);
  });

  it('reports files it does not use and why: non-SNOMED lists, unnamed lists, other formats, sub-folders', () => {
    const dir = folder({
      'DM_COD.csv': `code,term\n${DM[0]},t\n`,
      'glucose.readv2.txt': '44T1.00\tRandom blood sugar\n',
      'unnamed.csv': `code,term\n${DM[0]},t\n`,
      'README.md': '# notes\n',
    });
    mkdirSync(join(dir, 'more'));
    const notes = Object.fromEntries(readCodesetSource(dir).files.map((f) => [f.file.slice(dir.length + 1), `${f.kind}: ${f.note ?? ''}`]));
    expect(notes['glucose.readv2.txt']).toMatch(/^not-read: .*names no cluster|not SNOMED/);
    expect(notes['unnamed.csv']).toMatch(/names no cluster/);
    expect(notes['README.md']).toMatch(/not a codeset format/);
    expect(notes['more']).toMatch(/a folder/);
  });

  it('a list with no SNOMED CT code at all is reported, not an error', () => {
    const dir = folder({ 'DM_COD.csv': 'code,term\n44T1.00,Random blood sugar\n', 'DMRES_COD.csv': `code,term\n${DMRES[0]},t\n` });
    const source = readCodesetSource(dir);
    expect(source.codesets.map((c) => c.cluster)).toEqual(['DMRES_COD']);
    expect(source.files.find((f) => f.file.endsWith('DM_COD.csv'))!.note).toMatch(/not SNOMED CT/);
  });

  it('two files in one source giving one cluster with other codes fill nothing and say so', () => {
    const dir = folder({
      'a.csv': `code,term\n${DM[0]},t\n`,
      'b.csv': `code,term\n${DM[1]},t\n`,
      'MANIFEST.tsv': 'target\tfile\nDM_COD\ta.csv\nDM_COD\tb.csv\n',
    });
    const source = readCodesetSource(dir);
    expect(source.codesets).toEqual([]);
    expect(source.files.find((f) => f.file.endsWith('a.csv'))!.note).toMatch(/b\.csv in the same source also give/);
  });

  it('a missing path, or a folder with nothing readable, is CG_CODESET_SOURCE', () => {
    expect(problemsOf(() => readCodesetSource('/nonexistent/codelists'))[0]!.code).toBe('CG_CODESET_SOURCE');
    expect(problemsOf(() => readCodesetSource(folder({ 'README.md': 'x' })))[0]!.code).toBe('CG_CODESET_SOURCE');
  });
});

describe('RF2 simple reference sets (TRUD dm+d and PCD refsets)', () => {
  const header = 'id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\n';
  // moduleId is not read, so the fixture writes no identifier there.
  const row = (id: string, time: string, active: number, refset: string, code: string) => `${id}\t${time}\t${active}\tnot-read\t${refset}\t${code}\n`;

  it('fills the cluster whose refset id it names with the active members; the latest row of a member decides', () => {
    const dir = folder({
      'der2_Refset_SimpleFull_GB1000230_20240531.txt':
        header +
        row('a', '20230101', 1, DM_REFSET, DM[0]!) +
        row('b', '20230101', 1, DM_REFSET, DM[1]!) +
        row('b', '20240531', 0, DM_REFSET, DM[1]!) +
        row('c', '20240531', 1, DM_REFSET, DM[2]!) +
        // 12345678: an id no loaded cluster has (not a refset id anyone publishes).
        row('d', '20240531', 1, '12345678', DM[3]!),
    });
    const source = readCodesetSource(dir);
    const dm = layerCodesets(bundled, [source]).find((c) => c.cluster === 'DM_COD')!;
    expect([...dm.codes.keys()].sort()).toEqual([DM[0]!, DM[2]!].sort());
    expect([dm.source.release, dm.layer, dm.title]).toEqual(['20240531', dir, bundledOf('DM_COD').title]);
    expect(source.files[0]).toMatchObject({ kind: 'rf2-refset', clusters: ['DM_COD'] });
    expect(source.files[0]!.note).toMatch(/refset 12345678 \(1 members\) is no loaded cluster's refset id/);
  });

  it('a bad row is a problem with file:line', () => {
    const dir = folder({ 'refset.txt': header + row('a', '2024-05-31', 1, DM_REFSET, DM[0]!) + row('b', '20240531', 2, DM_REFSET, DM[0]!) });
    expect(problemsOf(() => readCodesetSource(dir)).map((p) => p.line)).toEqual([2, 3]);
  });
});

describe('layering', () => {
  it('a later source replaces a cluster whole and keeps what it replaced', () => {
    const first = readCodesetSource(folder({ 'DM_COD.csv': 'code,term\n' + DM.slice(0, 3).map((c) => `${c},t\n`).join('') }));
    const second = readCodesetSource(folder({ 'DM_COD.csv': `code,term\n${DM[3]},t\n` }));
    const dm = layerCodesets(bundled, [first, second]).find((c) => c.cluster === 'DM_COD')!;
    expect([...dm.codes.keys()]).toEqual([DM[3]]);
    expect(dm.layer).toBe(second.path);
    expect(dm.replaced).toEqual({ layer: first.path, release: '20240531', count: 3 });
    // The list carries no title or refset id: the replaced copy's are kept.
    expect([dm.title, dm.refset]).toEqual([bundledOf('DM_COD').title, DM_REFSET]);
  });
});

describe('provisional, computed from the clusters rules read', () => {
  // A registry whose register reads DM_COD, with one indicator over IFCCHBAM_COD and one over BP_COD (partial in
  // the bundled codesets): the second is provisional, the first is not.
  const yaml = `
id: sample
title: Sample
version: "1"
source: { document: test, version: "1" }
fields:
  DMLAT_DAT: { latest: DM_COD }
  HBA_DAT: { latest: IFCCHBAM_COD, after: "PPED - 12 months" }
  BP_DAT: { latest: BP_COD, after: "DMLAT_DAT" }
register:
  - { rule: 1, if: { fact: DMLAT_DAT, operator: notEqual, value: null }, then: select, else: reject }
indicators:
  - id: HBA
    title: HbA1c
    caveat: words only
    denominator: [{ rule: 1, if: { fact: PAT_AGE, operator: greaterThan, value: 0 }, then: select, else: { reject: not-applicable } }]
    numerator: [{ rule: 1, if: { fact: HBA_DAT, operator: notEqual, value: null }, then: select, else: reject }]
  - id: BP
    title: Blood pressure, a new indicator over a partial cluster
    denominator: [{ rule: 1, if: { fact: PAT_AGE, operator: greaterThan, value: 0 }, then: select, else: { reject: not-applicable } }]
    numerator: [{ rule: 1, if: { fact: BP_DAT, operator: after, value: "PPED - 12 months" }, then: select, else: reject }]
`;
  const compile = (codesets: Codeset[]) => {
    const index = new CodesetIndex(codesets);
    return new CompiledRegistry(parseRegistry(yaml, 'sample.yaml', { codesets: index }), index);
  };

  it('flags an indicator reading a partial cluster, with the reason, and not one reading complete clusters', () => {
    const registry = compile(bundled);
    expect(registry.provisional.register).toEqual([]);
    expect(registry.provisional.indicators['HBA']).toEqual([]);
    expect(registry.provisional.indicators['BP']).toEqual([{ cluster: 'BP_COD', status: 'partial', count: bundledOf('BP_COD').codes.size }]);
    expect(provisionalReason(registry.provisional.indicators['BP']!)).toBe(`reads BP_COD (partial: ${bundledOf('BP_COD').codes.size} codes)`);
  });

  it('a register reading an incomplete cluster makes every indicator provisional', () => {
    const missingDm: Codeset = { ...bundledOf('DM_COD'), status: 'missing', codes: new Map() };
    const registry = compile(bundled.map((c) => (c.cluster === 'DM_COD' ? missingDm : c)));
    expect(registry.provisional.register.map((c) => c.cluster)).toEqual(['DM_COD']);
    expect(provisionalReason(registry.provisional.indicators['HBA']!)).toBe('register reads DM_COD (missing)');
  });

  it('the flag clears when a source fills the cluster completely', () => {
    const bp = readCodesetSource(folder({ 'BP_COD.csv': 'code,term\n' + [...bundledOf('BP_COD').codes.keys()].map((c) => `${c},t\n`).join('') }));
    expect(compile(layerCodesets(bundled, [bp])).provisional.indicators['BP']).toEqual([]);
  });

  it('a rule file cannot set provisional itself', () => {
    const problems = problemsOf(() => parseRegistry(yaml.replace('caveat: words only', 'provisional: not really'), 'sample.yaml'));
    expect(problems[0]).toMatchObject({ code: 'CG_RULE_SCHEMA' });
  });

  it('loadRegistries lays codeset sources over the codesets folder', () => {
    const registries = fileURLToPath(new URL('../../../registries', import.meta.url));
    const frc = folder({ 'FRC_COD.csv': `code,term\n${DM[0]},not a foot code: a layering check only\n` });
    const loaded = loadRegistries(registries, CODESETS, { only: ['diabetes'], codesetSources: [frc] });
    expect(loaded.sources.map((s) => s.path)).toEqual([frc]);
    expect(loaded.index.codeset('FRC_COD')).toMatchObject({ status: 'complete', layer: frc });
    expect(provisionalReason(loaded.compiled[0]!.provisional.indicators['DM012']!)).not.toMatch(/FRC_COD/);
  });
});
