import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, reviewBundle, sealBundle, verifyBundle } from '../../src/bundle/index.js';
import { bundleReportCommand } from '../../src/cli/bundle.js';
import { buildBundle, copyBundle, makeEnv, readLines, writeLines, type BuiltBundle, type Env } from './fixture.js';
import { captureIo } from '../helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = resolve(process.cwd(), 'test-output');
const HOSTILE = `<script>window.__pwned = 1; document.title = 'pwned'</script><img src="https://evil.example/x.png" onerror="window.__pwned = 2">`;

let env: Env;
let built: BuiltBundle;

beforeAll(async () => {
  env = await makeEnv();
  built = await buildBundle(env, 'job-report', { summary: HOSTILE });
  await sealBundle(built.dir, { key: env.keys.receipt });
  mkdirSync(OUT, { recursive: true });
});
afterAll(() => env.cleanup());

async function page(dir: string, name: string): Promise<{ path: string; html: string }> {
  const html = renderReport(dir, await verifyBundle(dir, { trust: env.trust }), reviewBundle(dir), { trustLabel: env.trustPath, now: new Date('2025-03-02T00:00:00Z') });
  const path = join(OUT, name);
  writeFileSync(path, html);
  return { path, html };
}

describe('bundle report: the HTML', () => {
  it('is self-contained and escapes every recorded value', async () => {
    const { html } = await page(built.dir, 'bundle-report.html');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<link/i);
    // No tag carries a resource attribute (in escaped text `src=` is harmless: `<` is never literal there).
    expect(html).not.toMatch(/<[a-z][^>]*\s(src|href|action|srcset|poster|background)\s*=/i);
    expect(html).not.toMatch(/url\(/i);
    // URLs only as escaped text inside the hostile value, never as a resource reference.
    for (const m of html.matchAll(/https?:\/\//g)) expect(html.slice(Math.max(0, (m.index ?? 0) - 200), m.index)).toContain('&lt;img');
    expect(html).toContain('&lt;script&gt;window.__pwned = 1;');
    expect(html).toContain(`default-src 'none'`);
  });

  it('the CLI writes it and exits 1 when the bundle does not verify', async () => {
    const io = captureIo({ CLAW_HOME: env.home.root }, env.root);
    expect(await bundleReportCommand.run([built.dir, '-o', join(OUT, 'bundle-report-cli.html')], io)).toBe(0);
    expect(io.text()).toMatch(/: VERIFIED, \d+ exception\(s\)$/);
    const broken = copyBundle(env, built.dir, 'report-broken');
    const lines = readLines(broken, built.writeFile);
    lines.splice(2, 1);
    writeLines(broken, built.writeFile, lines);
    const io2 = captureIo({ CLAW_HOME: env.home.root }, env.root);
    expect(await bundleReportCommand.run([broken, '-o', join(OUT, 'bundle-report-broken.html')], io2)).toBe(1);
    expect(readFileSync(join(OUT, 'bundle-report-broken.html'), 'utf8')).toContain('NOT VERIFIED');
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`bundle report in headless Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the verdict and the rows, runs nothing hostile and loads nothing', async () => {
    const { path } = await page(built.dir, 'bundle-report-browser.html');
    const tab = await browser.newPage();
    const requests: string[] = [];
    tab.on('request', (request) => requests.push(request.url()));
    await tab.goto(pathToFileURL(path).href);
    await expect.poll(() => tab.locator('#verdict h2').innerText()).toBe('VERIFIED');
    expect(await tab.locator('#verdict').getAttribute('data-verdict')).toBe('verified');
    const receipts = readLines(built.dir, built.readFile).length + readLines(built.dir, built.writeFile).length;
    expect(await tab.locator('tr.timeline').count()).toBe(receipts);
    expect(await tab.locator('tr.timeline.deny').count()).toBe(3);
    expect(await tab.locator('tr.exception.sev-high').count()).toBeGreaterThan(0);
    expect(await tab.locator('#writes td.after pre', { hasText: '<script>window.__pwned' }).count()).toBe(1);
    expect(await tab.locator('code.wpc').innerText()).toBe(built.wpc.hash);
    expect(await tab.locator('script').count()).toBe(0);
    expect(await tab.locator('img').count()).toBe(0);
    expect(await tab.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await tab.title()).toBe('claw-jira proof bundle job-report: VERIFIED');
    expect(requests).toEqual([pathToFileURL(path).href]);
    await tab.screenshot({ path: join(OUT, 'bundle-report.png'), fullPage: true });
    expect(existsSync(join(OUT, 'bundle-report.png'))).toBe(true);
    await tab.close();
  });

  it('shows NOT VERIFIED with the named problem for a tampered bundle', async () => {
    const dir = copyBundle(env, built.dir, 'report-tampered');
    const lines = readLines(dir, built.writeFile);
    [lines[4], lines[5]] = [lines[5] as string, lines[4] as string];
    writeLines(dir, built.writeFile, lines);
    const { path } = await page(dir, 'bundle-report-tampered.html');
    const tab = await browser.newPage();
    await tab.goto(pathToFileURL(path).href);
    expect(await tab.locator('#verdict h2').innerText()).toBe('NOT VERIFIED');
    const row = tab.locator('#problems tr.problem', { hasText: 'RECEIPT_SEQ_MISMATCH' }).first();
    expect(await row.innerText()).toContain(`${built.writeFile}:5`);
    await tab.screenshot({ path: join(OUT, 'bundle-report-tampered.png'), fullPage: false });
    await tab.close();
  });
});

if (!existsSync(CHROMIUM)) {
  it.skip(`headless Chromium tests skipped: ${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`, () => {});
}
