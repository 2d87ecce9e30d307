#!/usr/bin/env node
// Headless playback check: real Chromium (EME, org.w3.clearkey) + a real player (shaka-player,
// dash.js or hls.js) play a protected DASH (.mpd) or HLS (.m3u8) presentation and report, as ONE
// JSON line on stdout, whether playback reached --seconds without a player error. Or: load a page
// that brings its own player (--page-url, --embed) and watch its <video>.
//
//   node play.mjs --modules DIR (--dir D --manifest M | --url URL | --page-url URL | --embed URL)
//        [--player shaka|dashjs|hlsjs] [--page-origin same|cross]
//        [--clearkey KIDHEX:KEYHEX ...] [--license URL [--token T]] [--media-token T]
//        [--seconds 5] [--playback-rate 1] [--timeout 60] [--record] [--trust-cert-spki B64]
//        [--page-port N]
//
// Exit code: 0 iff ok; 1 not ok; 2 bad usage or the harness itself failed (still one JSON line).
// Options, output fields and what was learnt using them: README.md, "play.mjs".
//
// Map: play/args.mjs (options), play/serve.mjs (--dir server, harness pages, same/cross origin),
// play/netlog.mjs (licenceRequests, --record), play/watch.mjs (--page-url/--embed),
// play/page/*.js (runs in the browser: EME observer, driver, one adapter per player).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { USAGE, parseArgs } from './play/args.mjs';
import { watchNetwork } from './play/netlog.mjs';
import { PAGE_PREFIX, harnessPages, playerLibrary, routeHarness, serveDir, serveHarness } from './play/serve.mjs';
import { watchPage } from './play/watch.mjs';

const started = Date.now();
const EME_OBSERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'play/page/eme-observer.js');

function emit(result, code) {
  result.elapsedMs = Date.now() - started;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = code;
}

function failure(message, extra = {}) {
  return { ok: false, currentTime: 0, error: { code: null, message: String(message) },
    decodedFrames: 0, droppedFrames: 0, keySystem: null, drmInfo: null, ...extra };
}

async function launch(chromium, opts, profile) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--autoplay-policy=no-user-gesture-required'];
  // Honoured because Playwright passes --user-data-dir (persistent context).
  if (opts.trustCertSpki) args.push(`--ignore-certificate-errors-spki-list=${opts.trustCertSpki}`);
  // A page fulfilled by interception has no IP address, so Chromium's Local Network Access takes
  // it for a public page and blocks its requests to a loopback server on another origin (e.g. a
  // licence server on another port). Only the synthetic same-origin page needs this; the other
  // modes load real pages from loopback servers and run with Chromium's defaults.
  if (!opts.pageMode && opts.pageOrigin === 'same') args.push('--disable-features=LocalNetworkAccessChecks');
  return chromium.launchPersistentContext(profile, {
    executablePath: opts.chromium, headless: true, args, timeout: 30000,
  });
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`play.mjs: ${e.message}\nusage: ${USAGE}\n`);
    emit(failure(`usage: ${e.message}`), 2);
    return;
  }
  const modules = path.resolve(opts.modules);
  const library = opts.pageMode ? null : playerLibrary(modules, opts.player, opts.playerDebug);
  if (library && !existsSync(library)) {
    emit(failure(`${opts.player} not found at ${library} (run scripts/tools.sh browser)`), 2);
    return;
  }
  let chromium;
  try {
    chromium = createRequire(path.join(modules, 'package.json'))('playwright-core').chromium;
  } catch (e) {
    emit(failure(`playwright-core not found under ${modules}: ${e.message}`), 2);
    return;
  }

  const common = opts.pageMode
    ? { player: null, pageOrigin: opts.embed !== undefined ? 'cross' : null }
    : { player: opts.player, pageOrigin: opts.pageOrigin };
  const servers = [];
  let context = null, profile = null, hardTimer = null;
  try {
    // Never hang: the in-page deadline should fire first; this is the backstop.
    hardTimer = setTimeout(() => {
      emit(failure(`hard timeout after ${opts.timeout + 30} s (browser unresponsive)`, common), 1);
      process.exit(1);
    }, (opts.timeout + 30) * 1000);

    profile = mkdtempSync(path.join(tmpdir(), 'abmark-play-'));
    context = await launch(chromium, opts, profile);
    await context.addInitScript({ path: EME_OBSERVER });
    const page = context.pages()[0] || await context.newPage();
    const blockedBy = [];
    // Chromium 156 says "Framing '...' violates ... frame-ancestors" (older: "Refused to frame");
    // X-Frame-Options: "Refused to display '...' in a frame".
    const FRAME_REFUSED = /Refused to (frame|display)|^Framing '.*' violates/;
    page.on('console', (m) => {
      if (FRAME_REFUSED.test(m.text())) blockedBy.push(m.text().trim().slice(0, 300));
      if (opts.verbose) process.stderr.write(`[console.${m.type()}] ${m.text()}\n`);
    });
    page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
    const net = await watchNetwork(page, { record: opts.record, verbose: opts.verbose });

    let result;
    if (opts.pageMode) {
      let pageUrl = opts.pageUrl;
      if (opts.embed !== undefined) {
        const host = await serveHarness(harnessPages({ embedUrl: new URL(opts.embed).href,
          embedAllow: opts.embedAllow }), opts.pagePort);
        servers.push(host);
        pageUrl = `http://127.0.0.1:${host.address().port}${PAGE_PREFIX}embed.html`;
      }
      pageUrl = new URL(pageUrl).href;
      try {
        await page.goto(pageUrl, { waitUntil: 'load', timeout: 30000 });
      } catch (e) {
        result = failure(`page load failed: ${String(e.message).split('\n')[0]}`);
        result.error.name = 'PAGE_LOAD_FAILED';
      }
      result ??= await watchPage(page, { seconds: opts.seconds, timeoutMs: opts.timeout * 1000,
        playbackRate: opts.playbackRate, embed: opts.embed !== undefined,
        blocked: () => blockedBy[0] || null });
      const eme = result.eme;
      result.keySystem = eme && eme.created && eme.created.length ? eme.created.at(-1) : null;
      Object.assign(result, common, { pageUrl });
    } else {
      let manifestUrl;
      if (opts.dir !== undefined) {
        const dir = await serveDir(opts.dir);
        servers.push(dir);
        manifestUrl = new URL(opts.manifest.split(path.sep).map(encodeURIComponent).join('/'),
          `http://127.0.0.1:${dir.address().port}/`).href;
      } else {
        manifestUrl = new URL(opts.url).href;
      }
      const pages = harnessPages({ library, player: opts.player, clearKeys: opts.clearKeys });
      let pageBase;
      if (opts.pageOrigin === 'same') {
        pageBase = new URL(manifestUrl).origin;
        await routeHarness(page, pageBase, pages);
      } else {
        const h = await serveHarness(pages, opts.pagePort);
        servers.push(h);
        pageBase = `http://127.0.0.1:${h.address().port}`;
      }
      const pageUrl = pageBase + PAGE_PREFIX + 'index.html';
      let license = opts.license !== undefined ? new URL(opts.license, manifestUrl).href : null;
      // hls.js takes no raw keys: it gets the harness's own ClearKey licence endpoint instead.
      if (opts.player === 'hlsjs' && Object.keys(opts.clearKeys).length) {
        license = pageBase + PAGE_PREFIX + 'clearkey';
      }
      await page.goto(pageUrl, { waitUntil: 'load', timeout: 30000 });
      result = await page.evaluate((cfg) => window.abmarkPlay(cfg), {
        manifestUrl, seconds: opts.seconds, timeoutMs: Math.round(opts.timeout * 1000),
        playbackRate: opts.playbackRate, clearKeys: opts.clearKeys, license,
        ignoreDrmInfo: !!opts.ignoreDrmInfo, debug: !!opts.playerDebug,
        token: opts.token === undefined ? null : opts.token,
        mediaToken: opts.mediaToken === undefined ? null : opts.mediaToken,
        playerId: randomBytes(12).toString('hex'),
      });
      Object.assign(result, common, { pageUrl });
    }
    Object.assign(result, await net.finish());
    emit(result, result.ok ? 0 : 1);
  } catch (e) {
    emit(failure(`harness: ${e && e.message ? e.message.split('\n')[0] : e}`, common), 2);
  } finally {
    clearTimeout(hardTimer);
    if (context) await context.close().catch(() => {});
    for (const s of servers) { s.closeAllConnections(); s.close(); }
    if (profile) rmSync(profile, { recursive: true, force: true });
  }
}

main();
