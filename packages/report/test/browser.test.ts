/**
 * The report in a real headless browser (Debian's chromium driven by playwright-core): it renders, its charts and
 * tables are there, nothing is logged as an error and no request leaves the machine.
 *
 * Environment: CAREGAPS_REPORT=<file.html> checks that page instead of one made from the sample population;
 * CAREGAPS_SCREENSHOT=<file.png> also saves a screenshot there (CAREGAPS_SCREENSHOT_AT=<element id> scrolls to it first);
 * CAREGAPS_CHROMIUM=<path> uses another chromium build instead of Debian's /usr/bin/chromium.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_FLAGS, findChromium } from './chromium.js';
import { createReport, type ReportModel } from '@caregaps/report';

const browser = findChromium();
const skipReason = 'reason' in browser ? browser.reason : undefined;
if (skipReason) console.warn(`SKIPPED: the browser test of the population report cannot run: ${skipReason}`);

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SAMPLE = join(ROOT, 'examples', 'sample-population');

describe.skipIf(skipReason !== undefined)(`the population report in headless chromium${skipReason ? ` (SKIPPED: ${skipReason})` : ''}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'caregaps-browser-'));
  let model: ReportModel | undefined;
  let file: string;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  const blocked: string[] = [];

  beforeAll(async () => {
    if (process.env.CAREGAPS_REPORT) file = process.env.CAREGAPS_REPORT;
    else {
      const result = await createReport({
        records: join(SAMPLE, 'records.ndjson'),
        organisations: join(SAMPLE, 'organisations.ndjson'),
        asOf: '2025-03-31',
        trend: ['2024-06-30', '2024-09-30', '2024-12-31'],
        registries: join(ROOT, 'registries'),
        codesets: join(ROOT, 'codesets'),
      });
      model = result.model;
      file = join(work, 'report.html');
      writeFileSync(file, result.html);
    }
    context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: (browser as { path: string }).path,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1400, height: 1100 },
      offline: true,
    });
    // Every request is recorded; anything that is not the page itself (file:) or inline data is refused.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requests.push(url);
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('requestfailed', (request) => blocked.push(`${request.url()} (${request.failure()?.errorText ?? 'failed'})`));
    const response = await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    expect(response?.ok()).toBe(true);
  });

  afterAll(async () => {
    await context?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('renders the page with its title and sections', async () => {
    expect(await page.title()).toMatch(/^Population report — \d{4}-\d{2}-\d{2}$/);
    expect(await page.locator('h1').innerText()).toBe('Population report');
    expect(await page.locator('h2').allInnerTexts()).toEqual(['Register sizes and prevalence', 'Indicator achievement', 'Variation between practices', 'Trends', 'About these figures']);
    expect(await page.locator('#prevalence').isVisible()).toBe(true);
  });

  it('shows the charts as laid-out SVG', async () => {
    const charts = page.locator('figure.chart svg');
    const count = await charts.count();
    if (model) expect(count).toBe(model.funnels.length + model.trends.length);
    expect(count).toBeGreaterThan(0);
    expect(await page.locator('#variation figure.chart svg').count()).toBeGreaterThan(0);
    expect(await page.locator('#trends figure.chart svg').count()).toBeGreaterThan(0);
    const box = await charts.first().boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(200);
    // The funnel plots draw one symbol per plotted practice.
    if (model) {
      const first = model.funnels[0]!;
      const symbols = await page.locator(`#${first.id} g.mark-symbol.role-mark path`).count();
      expect(symbols).toBe(first.funnel.points.length);
    }
  });

  it('has the tables: prevalence, achievement per registry and trends, with rows for every level', async () => {
    const prevalence = page.locator('#table-prevalence');
    expect(await prevalence.locator('tbody[data-level]').evaluateAll((bodies) => bodies.map((b) => b.getAttribute('data-level')))).toEqual(['icb', 'borough', 'pcn', 'practice']);
    expect(await prevalence.locator('tbody[data-level="practice"] tr:not(.group)').count()).toBeGreaterThan(0);
    const achievement = await page.locator('table[id^="table-achievement-"]').count();
    if (model) {
      expect(achievement).toBe(model.registries.length);
      expect(await page.locator('table[id^="table-trend-"]').count()).toBe(model.registries.length);
    } else expect(achievement).toBeGreaterThan(0);
  });

  it('sorts a table by a column when its header is clicked', async () => {
    const rows = page.locator('#table-prevalence tbody[data-level="practice"] tr:not(.group)');
    const listSizes = async () => (await rows.evaluateAll((trs) => trs.map((tr) => tr.children[2]?.getAttribute('data-sort') ?? ''))).map(Number);
    const header = page.locator('#table-prevalence thead th[data-col="2"] button');
    await header.click();
    const ascending = await listSizes();
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    await header.click();
    const descending = await listSizes();
    expect(descending).toEqual([...ascending].reverse());
    expect(await page.locator('#table-prevalence thead th[data-col="2"]').getAttribute('aria-sort')).toBe('descending');
  });

  it('gives every element a unique id (inline SVGs must not share clip-path ids)', async () => {
    const ids: string[] = await page.locator('[id]').evaluateAll((elements) => elements.map((el) => el.id));
    expect(ids.length).toBeGreaterThan(10);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('logs no console errors and makes no request beyond the page itself', () => {
    expect(consoleErrors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
  });

  it('takes a screenshot', async () => {
    const target = process.env.CAREGAPS_SCREENSHOT ?? join(work, 'report.png');
    const at = process.env.CAREGAPS_SCREENSHOT_AT;
    if (at) await page.locator(`#${at}`).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: target });
    const png = readFileSync(target);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
  });
});
