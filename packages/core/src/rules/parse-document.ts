import { LineCounter, isAlias, isCollection, isPair, isScalar, parseDocument, visit, type Document, type Node } from 'yaml';
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
  /** Deepest nesting of collections accepted (default 64), so that no reader of the document runs out of stack. */
  maxDepth?: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses hostile-safe YAML (JSON is YAML too): bounded size and aliases, unique keys, no prototype keys.
 * Throws a `CaregapsError` whose problems carry file:line:column.
 */
export function parseSourceDocument(text: string, file: string | undefined, limits: ParseLimits = {}): SourceDocument {
  const maxBytes = limits.maxBytes ?? 1 << 20;
  const maxAliasCount = limits.maxAliasCount ?? 20;
  const maxDepth = limits.maxDepth ?? 64;
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
  const flowTooDeep = flowDepthExceeded(text, maxDepth);
  if (flowTooDeep) {
    fail('CG_RULE_NESTING', [at('CG_RULE_NESTING', `collections are nested more than ${maxDepth} deep`, flowTooDeep.line, flowTooDeep.column)]);
  }
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, version: '1.2' });
  } catch (error) {
    return fail('CG_RULE_SYNTAX', [at('CG_RULE_SYNTAX', (error as Error).message)]);
  }
  if (doc.errors.length) {
    // The parser's own stack limit, met before ours (block nesting), is nesting too, not a syntax error.
    const code: ErrorCode = doc.errors.some((e) => /call stack/i.test(e.message)) ? 'CG_RULE_NESTING' : 'CG_RULE_SYNTAX';
    fail(
      code,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return /call stack/i.test(e.message)
          ? at('CG_RULE_NESTING', `collections are nested too deep for the parser (the limit is ${maxDepth})`, pos.line, pos.col)
          : at('CG_RULE_SYNTAX', e.message.split('\n')[0]!, pos.line, pos.col);
      }),
    );
  }
  const position = (node: Node | null | undefined) => lineCounter.linePos(node?.range?.[0] ?? 0);
  const deep = deepestNode(doc.contents, maxDepth);
  if (deep) {
    const pos = position(deep);
    fail('CG_RULE_NESTING', [at('CG_RULE_NESTING', `collections are nested more than ${maxDepth} deep`, pos.line, pos.col)]);
  }
  const forbidden: Problem[] = [];
  const cycles: Problem[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (!isPair(pair)) return;
      const key = pair.key as Node | null;
      if (isScalar(key) && FORBIDDEN_KEYS.has(String(key.value))) {
        const pos = position(key);
        forbidden.push(at('CG_RULE_FORBIDDEN_KEY', `key "${String(key.value)}" is not allowed`, pos.line, pos.col));
      } else if (key !== null && !isScalar(key)) {
        // An alias or a collection as a key would be turned into a string the check above never saw (`*k` for `&k __proto__`).
        const pos = position(key);
        forbidden.push(at('CG_RULE_FORBIDDEN_KEY', `a key must be written out as plain text, not ${isAlias(key) ? 'an alias' : 'a collection'}`, pos.line, pos.col));
      }
    },
    Alias(_, alias, path) {
      const target = alias.resolve(doc);
      if (target !== undefined && isCollection(target) && path.includes(target)) {
        const pos = position(alias);
        cycles.push(at('CG_RULE_ALIASES', `alias *${alias.source} refers to a collection that contains it (a cycle)`, pos.line, pos.col));
      }
    },
  });
  if (forbidden.length) fail('CG_RULE_FORBIDDEN_KEY', forbidden);
  if (cycles.length) fail('CG_RULE_ALIASES', cycles);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount });
  } catch (error) {
    // yaml reports an alias bomb as a ReferenceError; nesting its stack cannot hold is a RangeError; anything else is malformed.
    const message = (error as Error).message;
    const code: ErrorCode = /alias/i.test(message) ? 'CG_RULE_ALIASES' : /call stack/i.test(message) ? 'CG_RULE_NESTING' : 'CG_RULE_SYNTAX';
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

/**
 * The first node nested deeper than `maxDepth` collections, found without recursion (the tree may be deeper than the
 * stack), or undefined.
 */
function deepestNode(root: unknown, maxDepth: number): Node | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth >= maxDepth) return node;
    for (const item of node.items) {
      if (isPair(item)) {
        stack.push([item.key, depth + 1]);
        stack.push([item.value, depth + 1]);
      } else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Where flow collections (`[` and `{`) first nest deeper than `maxDepth`, scanned before parsing: the YAML parser
 * recurses on flow nesting and, thousands deep, exhausts the stack or the memory of its error formatting. Quoted
 * scalars and comments are skipped; a bracket inside a plain scalar counts, which errs on the side of refusing.
 */
function flowDepthExceeded(text: string, maxDepth: number): { line: number; column: number } | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let previous = 10; // the last character that was not a space, tab or line break; a line start counts as a break
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
      previous = 10;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) continue;
    if (c === 35 && (i === lineStart || text.charCodeAt(i - 1) === 32 || text.charCodeAt(i - 1) === 9)) {
      // A comment runs to the end of the line.
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 10) i++;
      continue;
    }
    // A quote opens a quoted scalar only where a scalar may begin.
    if ((c === 34 || c === 39) && (previous === 10 || previous === 58 || previous === 44 || previous === 91 || previous === 123 || previous === 45 || previous === 63)) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 10) {
          line++;
          lineStart = i + 1;
        } else if (c === 34 && d === 92) i++;
        else if (d === c) {
          if (c === 39 && text.charCodeAt(i + 1) === 39) i++;
          else break;
        }
      }
      previous = c;
      continue;
    }
    if (c === 91 || c === 123) {
      if (++depth > maxDepth) return { line, column: i - lineStart + 1 };
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
    previous = c;
  }
  return undefined;
}
