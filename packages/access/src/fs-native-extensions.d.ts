/** The part of fs-native-extensions (advisory file locks from the OS) the audit writer uses; the package has no types. */
declare module 'fs-native-extensions' {
  /** Takes an exclusive lock on the open file without waiting; false when another open file description holds it. */
  export function tryLock(fd: number): boolean;
  export function unlock(fd: number): void;
  const fsx: { tryLock: typeof tryLock; unlock: typeof unlock };
  export default fsx;
}
