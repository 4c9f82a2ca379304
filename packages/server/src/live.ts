/** Anything with rxjs's `subscribe` (the engine's `changes$`), typed structurally. */
export interface ChangeStream {
  subscribe(next: (value: unknown) => void): { unsubscribe(): void };
}

/**
 * Turns the engine's change stream into "something changed" ticks for open pages: changes are coalesced for
 * `delayMs` so a Bundle of many records re-renders each open page once, not once per change.
 */
export class LiveUpdates {
  private readonly listeners = new Set<(version: number) => void>();
  private readonly subscription: { unsubscribe(): void };
  private timer: NodeJS.Timeout | undefined;
  /** Increases with every tick; pages carry it so a test can tell one update from the next. */
  version = 0;

  constructor(
    changes: ChangeStream,
    private readonly delayMs = 100,
  ) {
    this.subscription = changes.subscribe(() => this.schedule());
  }

  /** Something besides the records changed what pages show (an opt-out, an agreement): update them too. */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.version++;
      for (const listener of this.listeners) listener(this.version);
    }, this.delayMs);
  }

  /** Calls `listener` after each coalesced batch of changes; returns the function that stops it. */
  listen(listener: (version: number) => void): () => void {
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
