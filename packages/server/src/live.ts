/** Anything with rxjs's `subscribe` (the engine's `changes$`), typed structurally. */
export interface ChangeStream {
  subscribe(next: (value: unknown) => void): { unsubscribe(): void };
}

/**
 * Turns the engine's change stream into "something changed" ticks for open pages: changes are coalesced for
 * `delayMs` so a Bundle of many records re-renders each open page once, not once per change.
 */
export class LiveUpdates {
  private readonly listeners = new Set<(version: number, patients: ReadonlySet<string>) => void>();
  /** The patients named by the changes of the batch being coalesced. */
  private changed = new Set<string>();
  private readonly subscription: { unsubscribe(): void };
  private timer: NodeJS.Timeout | undefined;
  /** Increases with every tick; pages carry it so a test can tell one update from the next. */
  version = 0;

  constructor(
    changes: ChangeStream,
    private readonly delayMs = 100,
  ) {
    this.subscription = changes.subscribe((change) => {
      const nhsNumber = (change as { nhsNumber?: unknown } | null)?.nhsNumber;
      if (typeof nhsNumber === 'string') this.changed.add(nhsNumber);
      this.schedule();
    });
  }

  /** Something besides the records changed what pages show (an opt-out, an agreement): update them too. */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.version++;
      const changed = this.changed;
      this.changed = new Set();
      for (const listener of this.listeners) listener(this.version, changed);
    }, this.delayMs);
  }

  /** Calls `listener` after each coalesced batch of changes, with the patients they named; returns the function that stops it. */
  listen(listener: (version: number, patients: ReadonlySet<string>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listening(): number {
    return this.listeners.size;
  }

  close(): void {
    this.subscription.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
  }
}
