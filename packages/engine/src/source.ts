import { isObservable, type Observable } from 'rxjs';

/** Where records can come from: an async iterable (a file reader, a queue consumer), an iterable, or an rxjs Observable. */
export type RecordSource = AsyncIterable<unknown> | Iterable<unknown> | Observable<unknown>;

/**
 * An Observable as an async iterable. Observables cannot be paused, so values that arrive faster than they are
 * consumed wait in memory; use an async iterable when the producer can wait.
 */
async function* fromObservable<T>(observable: Observable<T>): AsyncGenerator<T> {
  const queue: T[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const subscription = observable.subscribe({
    next: (value) => {
      queue.push(value);
      notify();
    },
    error: (error: unknown) => {
      failure = { error };
      notify();
    },
    complete: () => {
      done = true;
      notify();
    },
  });
  try {
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (failure) throw failure.error;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    subscription.unsubscribe();
  }
}

/** The iterator of any record source: synchronous when the source is a plain iterable, so no await per record. */
export function iteratorOf(source: RecordSource): { sync: Iterator<unknown>; async?: never } | { sync?: never; async: AsyncIterator<unknown> } {
  if (isObservable(source)) return { async: fromObservable(source)[Symbol.asyncIterator]() };
  if (Symbol.asyncIterator in source) return { async: (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() };
  return { sync: (source as Iterable<unknown>)[Symbol.iterator]() };
}
