import { LineCounter, isPair, isScalar, parseDocument, visit, type Document, type Node } from 'yaml';
import { CaregapsError, type ErrorCode, type Problem } from '../errors.js';

/** A parsed YAML or JSON document that can say where any JSON pointer lies in the source text. */
export interface SourceDocument {
  value: unknown;
  file: string | undefined;
  /** Line and column (from 1) of the node at a JSON pointer, falling back to its nearest existing parent. */
  locate(pointer: string, key?: string): { line: number; column: number };
}

export interface ParseLimits {
  /** Largest accepted file (default 1 MiB). */
  maxBytes?: number;
  /** Most YAML aliases accepted (default 20); anchors beyond that are refused, stopping alias bombs. */
  maxAliasCount?: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses hostile-safe YAML (JSON is YAML too): bounded size and aliases, unique keys, no prototype keys.
 * Throws a `CaregapsError` whose problems carry file:line:column.
 */
export function parseSourceDocument(text: string, file: string | undefined, limits: ParseLimits = {}): SourceDocument {
  const maxBytes = limits.maxBytes ?? 1 << 20;
  const maxAliasCount = limits.maxAliasCount ?? 20;
  const at = (code: ErrorCode, message: string, line?: number, column?: number): Problem => ({
    code,
    message,
    ...(file !== undefined ? { file } : {}),
    ...(line !== undefined ? { line } : {}),
    ...(column !== undefined ? { column } : {}),
  });
  const fail = (code: ErrorCode, problems: Problem[]): never => {
    throw new CaregapsError(code, `Cannot load ${file ?? 'document'}`, problems);
  };
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    fail('CG_RULE_FILE_TOO_LARGE', [at('CG_RULE_FILE_TOO_LARGE', `file is larger than ${maxBytes} bytes`)]);
  }
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, version: '1.2' });
  } catch (error) {
    return fail('CG_RULE_SYNTAX', [at('CG_RULE_SYNTAX', (error as Error).message)]);
  }
  if (doc.errors.length) {
    fail(
      'CG_RULE_SYNTAX',
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return at('CG_RULE_SYNTAX', e.message.split('\n')[0]!, pos.line, pos.col);
      }),
    );
  }
  const forbidden: Problem[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && FORBIDDEN_KEYS.has(String(pair.key.value))) {
        const pos = lineCounter.linePos(pair.key.range?.[0] ?? 0);
        forbidden.push(at('CG_RULE_FORBIDDEN_KEY', `key "${String(pair.key.value)}" is not allowed`, pos.line, pos.col));
      }
    },
  });
  if (forbidden.length) fail('CG_RULE_FORBIDDEN_KEY', forbidden);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount });
  } catch (error) {
    // yaml reports an alias bomb as a ReferenceError; anything else is a malformed document.
    const code: ErrorCode = /alias/i.test((error as Error).message) ? 'CG_RULE_ALIASES' : 'CG_RULE_SYNTAX';
    return fail(code, [at(code, (error as Error).message)]);
  }

  const locate = (pointer: string, key?: string): { line: number; column: number } => {
    const segments = pointer.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
    const path: (string | number)[] = segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) {
        let offset = node.range[0];
        if (n === path.length && key !== undefined && 'items' in node) {
          const pair = (node.items as unknown[]).find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
          if (pair && isPair(pair) && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
        }
        const pos = lineCounter.linePos(offset);
        return { line: pos.line, column: pos.col };
      }
    }
    return { line: 1, column: 1 };
  };
  return { value, file, locate };
}
