#!/usr/bin/env node
// Headless playback check: real Chromium (EME, org.w3.clearkey) + real shaka-player play a
// protected DASH (.mpd) or HLS (.m3u8) presentation and report, as ONE JSON line on stdout,
// whether playback reached --seconds without a shaka error.
//
//   node play.mjs --modules DIR (--dir D --manifest manifest.mpd | --url URL)
//        [--clearkey KIDHEX:KEYHEX ...] [--license URL [--token T]]
//        [--seconds 5] [--timeout 60] [--chromium /usr/bin/chromium] [--verbose]
//
// --modules   directory holding node_modules (printed by `scripts/tools.sh browser`).
// --dir       serve directory D on 127.0.0.1 (random port); --manifest is relative to D.
// --url       play a manifest from an existing server; the player page is faked (page.route)
//             on the same origin, so that server needs no CORS.
// --clearkey  key for shaka's drm.clearKeys (repeatable, hex KID:KEY, 32 hex digits each).
// --license   ClearKey licence server URL for drm.servers['org.w3.clearkey'] (relative URLs are
//             resolved against the manifest URL); --token adds `Authorization: Bearer T` to
//             licence requests only, with `Abmark-Player: <random id of this player>` (what
//             serve's stream limit binds a licence token to).
// Exit code: 0 iff ok; 1 not ok; 2 bad usage or the harness itself failed (still one JSON line).
//
// Output: {"ok","currentTime","error":null|{"code","category","severity","name","message","data"},
//          "decodedFrames","droppedFrames","keySystem","drmInfo","recoverable":[...],
//          "manifestUrl","elapsedMs"}

import { createServer } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PAGE_PREFIX = '/__abmark_play__/';
const started = Date.now();

function parseArgs(argv) {
  const o = { clearkey: [], seconds: 5, timeout: 60, verbose: false,
    chromium: process.env.ABMARK_CHROMIUM || '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--modules': o.modules = val(); break;
      case '--dir': o.dir = val(); break;
      case '--manifest': o.manifest = val(); break;
      case '--url': o.url = val(); break;
      case '--clearkey': o.clearkey.push(val()); break;
      case '--license': o.license = val(); break;
      case '--token': o.token = val(); break;
      case '--seconds': o.seconds = Number(val()); break;
      case '--timeout': o.timeout = Number(val()); break;
      case '--chromium': o.chromium = val(); break;
      case '--verbose': o.verbose = true; break;
      case '--ignore-drm-info': o.ignoreDrmInfo = true; break;
      case '--shaka-debug': o.shakaDebug = true; o.verbose = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.modules) throw new Error('--modules DIR is required');
  if (!!o.dir === !!o.url) throw new Error('give exactly one of --dir (with --manifest) or --url');
  if (o.dir && !o.manifest) throw new Error('--dir needs --manifest');
  if (!(o.seconds >= 0) || !(o.timeout > 0)) throw new Error('--seconds/--timeout must be numbers');

  const clearKeys = {};
  for (const ck of o.clearkey) {
    const m = /^([0-9a-fA-F]{32}):([0-9a-fA-F]{32})$/.exec(ck);
    if (!m) throw new Error(`--clearkey wants KIDHEX:KEYHEX (32 hex digits each), got ${ck}`);
    clearKeys[m[1].toLowerCase()] = m[2].toLowerCase();
  }
  o.clearKeys = clearKeys;
  return o;
}

function emit(result, code) {
  result.elapsedMs = Date.now() - started;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = code;
}

function harnessFailure(message) {
  return { ok: false, currentTime: 0, error: { code: null, message: String(message) },
    decodedFrames: 0, droppedFrames: 0, keySystem: null, drmInfo: null };
}

const CONTENT_TYPES = {
  '.mpd': 'application/dash+xml', '.m3u8': 'application/vnd.apple.mpegurl',
  '.mp4': 'video/mp4', '.m4s': 'video/iso.segment', '.m4v': 'video/mp4', '.m4a': 'audio/mp4',
  '.mp4a': 'audio/mp4', '.ts': 'video/mp2t', '.aac': 'audio/aac', '.vtt': 'text/vtt',
  '.json': 'application/json', '.js': 'text/javascript', '.html': 'text/html',
};

// A tiny static server for --dir: GET/HEAD, byte ranges (shaka uses them for SegmentBase).
function serveDir(root) {
  const base = path.resolve(root);
  const server = createServer((req, res) => {
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = path.resolve(base, '.' + rel);
    if ((file !== base && !file.startsWith(base + path.sep)) || !existsSync(file)
        || !statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const size = statSync(file).size;
    const headers = { 'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()]
      || 'application/octet-stream', 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
    let start = 0, end = size - 1, status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
    if (range && (range[1] || range[2])) {
      if (range[1]) { start = Number(range[1]); end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1; }
      else { start = Math.max(0, size - Number(range[2])); }
      if (start > end || start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) { res.end(); return; }
    createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>abmark play</title>
<script src="${PAGE_PREFIX}shaka-player.js"></script></head>
<body><video id="v" muted playsinline width="640" height="360"></video></body></html>`;

// Runs inside the page. Resolves with the result object; never rejects.
async function playInPage(cfg) {
  const safe = (v, depth = 0) => {
    if (v === null || v === undefined) return v ?? null;
    if (typeof v === 'number' || typeof v === 'boolean') return v;
    if (typeof v === 'string') return v.length > 500 ? v.slice(0, 500) + '…' : v;
    if (depth > 3) return String(v);
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return `<${v.byteLength} bytes>`;
    if (v instanceof Set) return [...v].map((x) => safe(x, depth + 1));
    if (Array.isArray(v)) return v.slice(0, 20).map((x) => safe(x, depth + 1));
    if (typeof v === 'object' && typeof v.code === 'number' && typeof v.category === 'number'
        && typeof v.severity === 'number') return shakaError(v, depth + 1); // nested shaka error
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v).slice(0, 30)) {
        if (typeof v[k] !== 'function') out[k] = safe(v[k], depth + 1);
      }
      return out;
    }
    return String(v);
  };
  const nameOf = (table, value) => {
    for (const [k, v] of Object.entries(table || {})) if (v === value) return k;
    return null;
  };
  const shakaError = (e, depth = 0) => {
    if (e && typeof e.code === 'number') {
      const Err = shaka.util.Error;
      const name = nameOf(Err.Code, e.code);
      const category = nameOf(Err.Category, e.category);
      const severity = e.severity === Err.Severity.CRITICAL ? 'CRITICAL' : 'RECOVERABLE';
      const out = { code: e.code, category: e.category, severity, name,
        message: `Shaka Error ${category}.${name} (${e.code})`, data: safe(e.data, depth) };
      // Convenience: the HTTP status behind a failed request (e.g. 6007 wrapping 1001).
      const http = e.code === Err.Code.BAD_HTTP_STATUS ? e
        : (e.data || []).find((x) => x && x.code === Err.Code.BAD_HTTP_STATUS);
      if (http && typeof http.data[1] === 'number') out.httpStatus = http.data[1];
      return out;
    }
    return { code: null, severity: 'CRITICAL', message: String((e && e.message) || e) };
  };

  const video = document.getElementById('v');
  video.muted = true;
  const result = { ok: false, currentTime: 0, error: null, decodedFrames: 0, droppedFrames: 0,
    keySystem: null, drmInfo: null, recoverable: [], manifestUrl: cfg.manifestUrl };
  let player = null;
  const fill = () => {
    result.currentTime = video.currentTime;
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    result.decodedFrames = q ? q.totalVideoFrames : (video.webkitDecodedFrameCount || 0);
    result.droppedFrames = q ? q.droppedVideoFrames : (video.webkitDroppedFrameCount || 0);
    try {
      if (player) {
        result.keySystem = player.keySystem() || null;
        const d = player.drmInfo();
        result.drmInfo = d ? safe({ keySystem: d.keySystem, licenseServerUri: d.licenseServerUri,
          encryptionScheme: d.encryptionScheme, keyIds: d.keyIds,
          videoRobustness: d.videoRobustness, audioRobustness: d.audioRobustness }) : null;
      }
    } catch (e) { /* diagnostics only */ }
    return result;
  };

  try {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      result.error = { code: null, message: 'shaka: browser not supported (no MSE/EME?)' };
      return fill();
    }
    player = new shaka.Player();
    await player.attach(video);
  } catch (e) {
    result.error = shaka && shaka.util ? shakaError(e) : { code: null, message: String(e) };
    return fill();
  }

  return await new Promise((resolve) => {
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      if (err) result.error = err;
      fill();
      result.ok = !result.error && result.currentTime >= cfg.seconds;
      resolve(result);
    };
    player.addEventListener('error', (ev) => {
      const err = shakaError(ev.detail);
      if (err.severity === 'CRITICAL') finish(err);
      else if (result.recoverable.length < 20) result.recoverable.push(err);
    });
    video.addEventListener('error', () => {
      // shaka turns this into 3016; keep ours as a fallback if it does not.
      const me = video.error;
      setTimeout(() => finish({ code: null, severity: 'CRITICAL',
        message: `HTMLMediaElement error ${me && me.code}: ${me && me.message}` }), 500);
    });

    const drm = {};
    if (Object.keys(cfg.clearKeys).length) drm.clearKeys = cfg.clearKeys;
    if (cfg.license) drm.servers = { 'org.w3.clearkey': cfg.license };
    const retry = { maxAttempts: 2, timeout: 15000 };
    player.configure({ drm, streaming: { retryParameters: retry },
      manifest: { retryParameters: retry, ignoreDrmInfo: !!cfg.ignoreDrmInfo } });
    if (cfg.token !== null) {
      const LICENSE = shaka.net.NetworkingEngine.RequestType.LICENSE;
      const playerId = Array.from(crypto.getRandomValues(new Uint8Array(12)),
        (b) => b.toString(16).padStart(2, '0')).join('');
      player.getNetworkingEngine().registerRequestFilter((type, request) => {
        if (type !== LICENSE) return;
        request.headers['Authorization'] = `Bearer ${cfg.token}`;
        request.headers['Abmark-Player'] = playerId;
      });
    }

    const deadline = setTimeout(() => finish({ code: null, severity: 'CRITICAL',
      message: `timeout after ${cfg.timeoutMs} ms (currentTime ${video.currentTime.toFixed(3)}` +
        ` < ${cfg.seconds}, readyState ${video.readyState})` }), cfg.timeoutMs);
    const tick = setInterval(() => {
      if (done) { clearInterval(tick); clearTimeout(deadline); return; }
      if (video.currentTime >= cfg.seconds) finish(null);
      else if (video.ended) finish({ code: null, severity: 'CRITICAL',
        message: `ended at ${video.currentTime.toFixed(3)} s before ${cfg.seconds} s` });
    }, 100);

    player.load(cfg.manifestUrl).then(() => {
      if (done) return;
      const p = video.play();
      if (p && p.catch) p.catch((e) => finish({ code: null, severity: 'CRITICAL',
        message: `video.play() rejected: ${e && e.name}: ${e && e.message}` }));
    }, (e) => finish(shakaError(e)));
  });
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`play.mjs: ${e.message}\n`);
    emit(harnessFailure(`usage: ${e.message}`), 2);
    return;
  }
  const modules = path.resolve(opts.modules);
  const shakaJs = path.join(modules, 'node_modules/shaka-player/dist/shaka-player.compiled'
    + (opts.shakaDebug ? '.debug.js' : '.js'));
  if (!existsSync(shakaJs)) {
    emit(harnessFailure(`shaka-player not found under ${modules} (run scripts/tools.sh browser)`), 2);
    return;
  }
  let chromium;
  try {
    chromium = createRequire(path.join(modules, 'package.json'))('playwright-core').chromium;
  } catch (e) {
    emit(harnessFailure(`playwright-core not found under ${modules}: ${e.message}`), 2);
    return;
  }

  let server = null, context = null, profile = null, hardTimer = null;
  try {
    let manifestUrl;
    if (opts.dir) {
      server = await serveDir(opts.dir);
      const { port } = server.address();
      manifestUrl = new URL(opts.manifest.split(path.sep).map(encodeURIComponent).join('/'),
        `http://127.0.0.1:${port}/`).href;
    } else {
      manifestUrl = new URL(opts.url).href;
    }
    const origin = new URL(manifestUrl).origin;
    const pageUrl = origin + PAGE_PREFIX + 'index.html';
    const license = opts.license ? new URL(opts.license, manifestUrl).href : null;

    // Never hang: the in-page deadline should fire first; this is the backstop.
    hardTimer = setTimeout(() => {
      emit(harnessFailure(`hard timeout after ${opts.timeout + 30} s (browser unresponsive)`), 1);
      process.exit(1);
    }, (opts.timeout + 30) * 1000);

    profile = mkdtempSync(path.join(tmpdir(), 'abmark-play-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run',
        '--autoplay-policy=no-user-gesture-required'],
      timeout: 30000,
    });
    const page = context.pages()[0] || await context.newPage();
    if (opts.verbose) {
      page.on('console', (m) => process.stderr.write(`[console.${m.type()}] ${m.text()}\n`));
      page.on('requestfailed', (r) => process.stderr.write(`[requestfailed] ${r.url()} ${r.failure()?.errorText}\n`));
      page.on('response', (r) => process.stderr.write(`[${r.status()}] ${r.request().method()} ${r.url()}\n`));
    }
    page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
    await page.route((u) => u.origin === origin && u.pathname.startsWith(PAGE_PREFIX), (route) => {
      const p = new URL(route.request().url()).pathname;
      if (p === PAGE_PREFIX + 'index.html') {
        return route.fulfill({ status: 200, contentType: 'text/html', body: PAGE_HTML });
      }
      if (p === PAGE_PREFIX + 'shaka-player.js') {
        return route.fulfill({ status: 200, contentType: 'text/javascript', path: shakaJs });
      }
      return route.fulfill({ status: 404, body: 'not found' });
    });
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 30000 });
    const result = await page.evaluate(playInPage, {
      manifestUrl, seconds: opts.seconds, timeoutMs: Math.round(opts.timeout * 1000),
      clearKeys: opts.clearKeys, license, ignoreDrmInfo: !!opts.ignoreDrmInfo, token: opts.token === undefined ? null : opts.token,
    });
    emit(result, result.ok ? 0 : 1);
  } catch (e) {
    emit(harnessFailure(`harness: ${e && e.message ? e.message.split('\n')[0] : e}`), 2);
  } finally {
    clearTimeout(hardTimer);
    if (context) await context.close().catch(() => {});
    if (server) { server.closeAllConnections(); server.close(); }
    if (profile) rmSync(profile, { recursive: true, force: true });
  }
}

main();
