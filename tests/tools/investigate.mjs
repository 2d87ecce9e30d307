// Drives the detection service's web page (`abmark investigate serve`, GET /) in headless
// Chromium, as cli/tests/investigate.rs asks: a wrong API key is refused on the page, the right
// one signs in, a copy is uploaded (upload progress shown), the job is watched to its end and
// its report (with the plot) is shown. Prints one JSON line with what the page showed.
//
//   node investigate.mjs --modules DIR --url BASE --key KEY --content ID --file COPY
//
// Chromium and playwright-core come from scripts/tools.sh browser, as for play.mjs.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const k of ['modules', 'url', 'key', 'content', 'file']) {
    if (!o[k]) throw new Error(`missing --${k}`);
  }
  return o;
}

async function main() {
  const o = args(process.argv.slice(2));
  const { chromium } = createRequire(path.join(path.resolve(o.modules), 'package.json'))('playwright-core');
  const profile = mkdtempSync(path.join(tmpdir(), 'abmark-investigate-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.ABMARK_CHROMIUM || '/usr/bin/chromium', headless: true, timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const result = { ok: false };
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(o.url + '/');
    await page.fill('#key', o.key + 'wrong');
    await page.click('#signin-button');
    await page.waitForFunction(() => document.getElementById('signin-error').textContent !== '');
    result.wrongKeyMessage = await page.textContent('#signin-error');
    await page.fill('#key', o.key);
    await page.click('#signin-button');
    await page.waitForSelector('#submit:not(.hidden)', { timeout: 10000 });
    await page.fill('#content', o.content);
    await page.setInputFiles('#file', o.file);
    await page.click('#upload');
    await page.waitForFunction(() => document.getElementById('upload-text').textContent === 'uploaded',
      null, { timeout: 120000 });
    result.uploadProgress = await page.evaluate(() => document.getElementById('upload-progress').value);
    const statuses = new Set();
    const deadline = Date.now() + 600000;
    for (;;) {
      const s = await page.textContent('#job-status');
      statuses.add(s);
      if (s !== 'queued' && s !== 'running' && s !== '') break;
      if (Date.now() > deadline) throw new Error('the job did not finish');
      await page.waitForTimeout(100);
    }
    result.statusesSeen = [...statuses];
    result.status = await page.textContent('#job-status');
    result.reason = await page.textContent('#job-reason');
    if (result.status === 'done') {
      await page.waitForSelector('#report:not(.hidden)', { timeout: 30000 });
      const frame = page.frameLocator('#report');
      result.reportText = await frame.locator('body').innerText();
      result.reportHasPlot = await frame.locator('svg').count() > 0;
    }
    result.jobRows = await page.locator('#job-rows tr').count();
    result.ok = true;
  } catch (e) {
    result.error = String(e && e.message || e);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + '\n'); });
