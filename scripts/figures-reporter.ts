/**
 * A vitest reporter that collects the reliability plan's figures: every console line a test prints that starts with a
 * row id of ../shared/reference/reliability-and-security.md §4 (`A3 …`, `D1 …`, `I2/B1 …`). With CI set (or
 * CAREGAPS_FIGURES naming a file) it writes them as JSON: `{ at, figures: [{ rows, test, line }] }`, default
 * `test-results/figures.json`. docs/reliability.md lists which test prints which row.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestModule, UserConsoleLog, Vitest } from 'vitest/node';

const ROW = /^([A-J]\d(?:\/[A-J]\d)*)\b/;

export default class FiguresReporter implements Reporter {
  private vitest: Vitest | undefined;
  private readonly figures: { rows: string[]; test: string; line: string }[] = [];

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    const text = log.content.trim();
    const found = ROW.exec(text);
    if (!found) return;
    const task = log.taskId ? this.vitest?.state.idMap.get(log.taskId) : undefined;
    this.figures.push({ rows: found[1]!.split('/'), test: task ? `${task.file?.name ?? ''} › ${task.name}` : '', line: text });
  }

  onTestRunEnd(_modules: readonly TestModule[]): void {
    const file = process.env.CAREGAPS_FIGURES ?? (process.env.CI ? 'test-results/figures.json' : undefined);
    if (!file || this.figures.length === 0) return;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), figures: this.figures }, null, 2) + '\n');
  }
}
