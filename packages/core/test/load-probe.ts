/** What a task cost the process: its time, the longest the event loop was blocked, and the highest RSS growth. */
export interface LoadFigures {
  ms: number;
  /** Longest gap a 5 ms timer saw while the task ran. */
  blockMs: number;
  rssGrowthMb: number;
}

/** Runs `task`, sampling the event loop and RSS every 5 ms (for the A4 oversize figures). */
export async function measureLoad<T>(task: () => Promise<T>): Promise<{ result: T } & LoadFigures> {
  const rssBefore = process.memoryUsage().rss;
  let rssMax = rssBefore;
  let last = performance.now();
  let blockMs = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    blockMs = Math.max(blockMs, now - last);
    last = now;
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }, 5);
  const start = performance.now();
  try {
    const result = await task();
    return { result, ms: performance.now() - start, blockMs, rssGrowthMb: (rssMax - rssBefore) / 1e6 };
  } finally {
    clearInterval(probe);
  }
}
