// The HTTP side of play.mjs: the static server for --dir, the harness's own pages (player page,
// player scripts, embedding host page, a W3C ClearKey licence endpoint for --clearkey with
// players that cannot take raw keys), and the two ways of putting those pages in front of the
// browser: DevTools Fetch interception on the content's origin (--page-origin same) or a real node
// server on another port (--page-origin cross, --embed). Neither touches any other request.
//
// Not for: anything that should prove our edge's behaviour. The --dir server is a permissive
// fixture (it answers every CORS preflight); tests of the edge's CORS use --url/--page-url.

import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PAGE_PREFIX = '/__abmark_play__/';
const PAGE_JS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

const CONTENT_TYPES = {
  '.mpd': 'application/dash+xml', '.m3u8': 'application/vnd.apple.mpegurl',
  '.mp4': 'video/mp4', '.m4s': 'video/iso.segment', '.m4v': 'video/mp4', '.m4a': 'audio/mp4',
  '.mp4a': 'audio/mp4', '.ts': 'video/mp2t', '.aac': 'audio/aac', '.vtt': 'text/vtt',
  '.json': 'application/json', '.js': 'text/javascript', '.html': 'text/html',
};

/** Where each player's browser build lives under node_modules (debug: unminified build). */
export function playerLibrary(modules, player, debug) {
  const nm = path.join(modules, 'node_modules');
  switch (player) {
    case 'shaka':
      return path.join(nm, 'shaka-player/dist', `shaka-player.compiled${debug ? '.debug' : ''}.js`);
    case 'dashjs':
      return path.join(nm, 'dashjs/dist/modern/umd', `dash.all.${debug ? 'debug' : 'min'}.js`);
    case 'hlsjs':
      return path.join(nm, 'hls.js/dist', debug ? 'hls.js' : 'hls.min.js');
    default:
      throw new Error(`unknown player ${player}`);
  }
}

function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.on('error', (e) => reject(new Error(`cannot listen on 127.0.0.1:${port}: ${e.message}`)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// CORS for the --dir fixture: allow whatever is asked, credentials included, like a lenient CDN.
function permissiveCors(req, headers) {
  const origin = req.headers.origin;
  if (!origin) return;
  headers['Access-Control-Allow-Origin'] = origin;
  headers['Access-Control-Allow-Credentials'] = 'true';
  headers['Access-Control-Expose-Headers'] = 'Content-Range, Content-Length, Accept-Ranges';
  headers.Vary = 'Origin';
}

/** A tiny static server for --dir: GET/HEAD, byte ranges (shaka uses them for SegmentBase). */
export function serveDir(root) {
  const base = path.resolve(root);
  return listen(createServer((req, res) => {
    const headers = {};
    permissiveCors(req, headers);
    if (req.method === 'OPTIONS') {
      headers['Access-Control-Allow-Methods'] = 'GET, HEAD, POST, OPTIONS';
      if (req.headers['access-control-request-headers']) {
        headers['Access-Control-Allow-Headers'] = req.headers['access-control-request-headers'];
      }
      res.writeHead(204, headers).end();
      return;
    }
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    const file = path.resolve(base, '.' + rel);
    if ((file !== base && !file.startsWith(base + path.sep)) || !existsSync(file)
        || !statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const size = statSync(file).size;
    Object.assign(headers, { 'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()]
      || 'application/octet-stream', 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' });
    let start = 0, end = size - 1, status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
    if (range && (range[1] || range[2])) {
      if (range[1]) { start = Number(range[1]); end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1; }
      else { start = Math.max(0, size - Number(range[2])); }
      if (start > end || start >= size) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) { res.end(); return; }
    createReadStream(file, { start, end }).pipe(res);
  }));
}

const b64url = (hex) => Buffer.from(hex, 'hex').toString('base64url');
const hexOfB64url = (s) => Buffer.from(String(s), 'base64url').toString('hex');
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The harness's own pages, as a function of (method, pathname, body) -> response or null.
 * `opts`: { library (player build path), player, clearKeys, embedUrl, embedAllow }.
 * Responses: { status, headers, body (string|Buffer) } or { status, headers, path }.
 */
export function harnessPages(opts) {
  const js = { 'Content-Type': 'text/javascript', 'Cache-Control': 'no-store' };
  const playerHtml = `<!doctype html><html><head><meta charset="utf-8"><title>abmark play</title>
<script src="lib.js"></script><script src="driver.js"></script><script src="adapter.js"></script>
</head><body><video id="v" muted playsinline width="640" height="360"></video></body></html>`;
  const embedHtml = opts.embedUrl === undefined ? null
    : `<!doctype html><html><head><meta charset="utf-8"><title>abmark embed</title></head><body>
<iframe id="f" src="${escapeHtml(opts.embedUrl)}" allow="${escapeHtml(opts.embedAllow)}"
 width="660" height="380" style="border:0"></iframe></body></html>`;

  return ({ method, pathname, body }) => {
    if (!pathname.startsWith(PAGE_PREFIX)) return null;
    const name = pathname.slice(PAGE_PREFIX.length);
    const html = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' };
    if (name === 'index.html' && opts.library) return { status: 200, headers: html, body: playerHtml };
    if (name === 'embed.html' && embedHtml) return { status: 200, headers: html, body: embedHtml };
    if (name === 'lib.js' && opts.library) return { status: 200, headers: js, path: opts.library };
    if (name === 'driver.js' && opts.library) {
      return { status: 200, headers: js, path: path.join(PAGE_JS_DIR, 'driver.js') };
    }
    if (name === 'adapter.js' && opts.library) {
      return { status: 200, headers: js, path: path.join(PAGE_JS_DIR, `${opts.player}.js`) };
    }
    if (name === 'clearkey' && method === 'POST') return clearKeyLicence(opts.clearKeys, body);
    return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found' };
  };
}

/** Is this URL one of the harness's own page assets (left out of `requests`)? */
export function isHarnessAsset(url) {
  const p = new URL(url).pathname;
  return p.startsWith(PAGE_PREFIX) && p !== PAGE_PREFIX + 'clearkey';
}

// W3C ClearKey licence (EME spec, "Clear Key"): request {"kids":[b64url],"type":...},
// response {"keys":[{"kty":"oct","kid","k"}],"type":...}. Unknown KIDs are left out; if none is
// known the answer is 403 so the player reports a licence failure rather than hanging.
function clearKeyLicence(clearKeys, body) {
  const jsonHeaders = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
  let req;
  try {
    req = JSON.parse(Buffer.from(body || '').toString('utf8'));
  } catch {
    return { status: 400, headers: jsonHeaders, body: '{"error":"licence request is not JSON"}' };
  }
  const keys = (Array.isArray(req.kids) ? req.kids : [])
    .map((kid) => [kid, clearKeys[hexOfB64url(kid)]])
    .filter(([, key]) => key)
    .map(([kid, key]) => ({ kty: 'oct', kid, k: b64url(key) }));
  if (!keys.length) return { status: 403, headers: jsonHeaders, body: '{"error":"no such kid"}' };
  return { status: 200, headers: jsonHeaders,
    body: JSON.stringify({ keys, type: req.type || 'temporary' }) };
}

/**
 * A real server on 127.0.0.1:`port` (0: random) for the harness pages: a genuinely different
 * origin from the edge's. A fixed port lets a test put the page's origin on the edge's allow-list
 * before the run.
 */
export function serveHarness(pages, port = 0) {
  return listen(createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const out = pages({ method: req.method, pathname: new URL(req.url, 'http://x').pathname,
        body: Buffer.concat(chunks) });
      if (!out) { res.writeHead(404).end(); return; }
      if (out.path) {
        res.writeHead(out.status, { ...out.headers, 'Content-Length': statSync(out.path).size });
        createReadStream(out.path).pipe(res);
      } else {
        res.writeHead(out.status, out.headers).end(out.body);
      }
    });
  }), port);
}

/**
 * Fakes the harness pages on `origin` (--page-origin same) with the DevTools protocol's Fetch
 * domain, pausing only URLs under `origin`/__abmark_play__/. Not Playwright's `page.route`: while
 * any route is installed Playwright intercepts every request, answers every CORS preflight itself
 * (204, allow-all) and disables the cache; a licence server on another origin would be judged by
 * Playwright, not by the browser.
 */
export async function routeHarness(page, origin, pages) {
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', async (ev) => {
    const r = ev.request;
    const body = r.postDataEntries
      ? Buffer.concat(r.postDataEntries.map((e) => Buffer.from(e.bytes || '', 'base64')))
      : Buffer.from(r.postData || '');
    let out;
    try {
      out = pages({ method: r.method, pathname: new URL(r.url).pathname, body });
    } catch (e) {
      out = { status: 500, headers: { 'Content-Type': 'text/plain' }, body: String(e) };
    }
    const bytes = out.path ? readFileSync(out.path) : Buffer.from(out.body ?? '');
    await cdp.send('Fetch.fulfillRequest', { requestId: ev.requestId, responseCode: out.status,
      responseHeaders: Object.entries(out.headers).map(([name, value]) => ({ name, value: String(value) })),
      body: bytes.toString('base64') }).catch(() => {});
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${origin}${PAGE_PREFIX}*`, requestStage: 'Request' }] });
}
