/**
 * File-name patterns of a column map: `*` (any run of characters) and `?` (one character), case-insensitive.
 * Matched in O(pattern × name) time with the classic two-pointer method: a glob compiled to a regular expression
 * (as picomatch and minimatch compile it) backtracks, and `*a*a*a*a*a*a*a*b` against a long name ran for seconds to
 * hours, freezing the process on a hostile or careless map.
 */

/** Longest `files` pattern a column map may give. */
export const MAX_GLOB_LENGTH = 256;

/** Whether `name` matches `glob` as a whole. */
export function matchesGlob(glob: string, name: string): boolean {
  const p = glob.toLowerCase();
  const s = name.toLowerCase();
  let i = 0;
  let j = 0;
  // Where the last `*` was, and the name position it is currently taken to reach.
  let star = -1;
  let resume = 0;
  while (j < s.length) {
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === s[j]))) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      resume = j;
    } else if (star !== -1) {
      // Let the last `*` take one more character and try again from there.
      i = star + 1;
      j = ++resume;
    } else return false;
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}
