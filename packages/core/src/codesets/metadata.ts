/**
 * Data files in `codesets/` (clusters and normalisation maps) open with `# key: value` lines naming their source,
 * followed by CSV. This splits the two.
 */
export function splitMetadata(text: string): { meta: Map<string, string>; csv: string; headerLine: number } {
  const lines = text.split('\n');
  const meta = new Map<string, string>();
  let i = 0;
  for (; i < lines.length && lines[i]!.startsWith('#'); i++) {
    const m = /^#\s*([a-z-]+):\s*(.*?)\s*$/.exec(lines[i]!);
    if (m) meta.set(m[1]!, m[2]!);
  }
  return { meta, csv: lines.slice(i).join('\n'), headerLine: i + 1 };
}
