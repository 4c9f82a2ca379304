import { ABORT, type RootDatabase } from 'lmdb';

/** A write transaction left open across calls: what is written in it is read back through the same handle at once. */
export interface HeldTransaction {
  /** Commits everything written since it began (throws what LMDB's commit throws). */
  commit(): void;
  /** Drops everything written since it began. */
  abort(): void;
}

/**
 * Begins a write transaction on `env` that stays open after this returns, until `commit` or `abort`. While it is
 * open, every `putSync`/`removeSync` and read on `env`'s databases runs inside it (lmdb-js's own bookkeeping, as
 * inside `transactionSync`); other handles on the file, in this thread or another, see none of it until it commits.
 *
 * lmdb-js keeps a `transactionSync` open while its callback's promise-like result is pending and finishes it with
 * the value that result settles with (ABORT aborts): the result here is a promise-like whose settling is in our
 * hands, so the commit happens when we call it, synchronously, not on a later turn of the event loop.
 */
export function holdTransaction(env: RootDatabase): HeldTransaction {
  let finish: ((result: unknown) => unknown) | undefined;
  let failure: unknown;
  const pending = {
    then(onSettled: (result: unknown) => unknown) {
      finish = onSettled;
      return pending;
    },
  };
  env.transactionSync(() => pending as unknown as Promise<void>);
  if (finish === undefined) throw new Error('lmdb did not keep the transaction open');
  const end = (result: unknown) => {
    const settle = finish;
    finish = undefined;
    if (settle === undefined) throw failure ?? new Error('the held transaction has already ended');
    try {
      settle(result);
    } catch (error) {
      failure = error;
      throw error;
    }
  };
  return { commit: () => end(undefined), abort: () => end(ABORT) };
}
