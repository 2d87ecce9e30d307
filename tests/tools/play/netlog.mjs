// What the page fetched: every request of the page and its frames (Playwright events), and, when
// recording, the CORS preflights too (Chromium's DevTools protocol; Playwright does not surface
// them, nor why a request failed CORS). Licence POSTs are always counted; the full list, the
// headers and media body hashes only with --record.
//
// Never logs a credential: Authorization is reported as present or not.

import { createHash } from 'node:crypto';
import { isHarnessAsset } from './serve.mjs';

const isHttp = (url) => /^https?:/i.test(url);
const MEDIA_PATH = /\.(m4s|mp4)$/i;

export async function watchNetwork(page, { record, verbose }) {
  const entries = [];
  const pending = [];
  const byRequest = new Map();
  const log = (line) => verbose && process.stderr.write(line + '\n');

  const headersOf = async (req) => {
    try {
      return await Promise.race([req.allHeaders(), new Promise((r) => setTimeout(() => r(null), 2000))])
        || req.headers();
    } catch {
      return req.headers();
    }
  };
  const entryFor = (req) => {
    let e = byRequest.get(req);
    if (!e) {
      e = { url: req.url(), method: req.method(), resourceType: req.resourceType(),
        frame: req.frame() && req.frame().parentFrame() ? 'child' : 'main', status: null };
      byRequest.set(req, e);
      if (isHttp(e.url) && !isHarnessAsset(e.url)) entries.push(e);
    }
    return e;
  };

  page.on('request', (req) => entryFor(req));
  page.on('response', (resp) => {
    const req = resp.request();
    const e = entryFor(req);
    e.status = resp.status();
    log(`[${e.status}] ${e.method} ${e.url}`);
    if (!record) return;
    pending.push((async () => {
      const h = await headersOf(req);
      e.origin = h.origin ?? null;
      e.authorization = 'authorization' in h;
      e.abmarkPlayer = 'abmark-player' in h;
      if (h.range) e.range = h.range;
      if (h['content-type']) e.contentType = h['content-type'];
      let rh = {};
      try { rh = await resp.allHeaders(); } catch { rh = resp.headers(); }
      e.acao = rh['access-control-allow-origin'] ?? null;
      if (rh['access-control-allow-credentials']) e.acac = rh['access-control-allow-credentials'];
      if (MEDIA_PATH.test(new URL(e.url).pathname) && e.status >= 200 && e.status < 300) {
        try {
          e.sha256 = createHash('sha256').update(await resp.body()).digest('hex');
        } catch (err) {
          e.sha256 = null;
          e.bodyError = String(err && err.message).split('\n')[0];
        }
      }
    })());
  });
  page.on('requestfailed', (req) => {
    const e = entryFor(req);
    e.failure = (req.failure() && req.failure().errorText) || 'failed';
    log(`[requestfailed] ${e.method} ${e.url} ${e.failure}`);
    if (record && e.origin === undefined) {
      pending.push(headersOf(req).then((h) => {
        e.origin = h.origin ?? null;
        e.authorization = 'authorization' in h;
        e.abmarkPlayer = 'abmark-player' in h;
      }, () => {}));
    }
  });

  // CORS preflights never reach Playwright's request events; the protocol has them.
  // They also say why a request failed CORS (corsErrorStatus), which Playwright's failure text
  // ("net::ERR_FAILED") does not.
  const corsErrors = new Map(); // "METHOD url" -> corsError of a failed request
  {
    try {
      const cdp = await page.context().newCDPSession(page);
      const preflights = new Map();
      const sent = new Map();
      cdp.on('Network.requestWillBeSent', (p) => {
        sent.set(p.requestId, `${p.request.method} ${p.request.url}`);
        if (p.type !== 'Preflight' && p.request.method !== 'OPTIONS') return;
        const rq = Object.fromEntries(Object.entries(p.request.headers || {})
          .map(([k, v]) => [k.toLowerCase(), v]));
        const e = { url: p.request.url, method: 'OPTIONS', resourceType: 'preflight', preflight: true,
          status: null, origin: rq.origin ?? null,
          requestMethod: rq['access-control-request-method'] ?? null,
          requestHeaders: rq['access-control-request-headers'] ?? null };
        preflights.set(p.requestId, e);
        entries.push(e);
      });
      cdp.on('Network.responseReceived', (p) => {
        const e = preflights.get(p.requestId);
        if (!e) return;
        const h = Object.fromEntries(Object.entries(p.response.headers || {})
          .map(([k, v]) => [k.toLowerCase(), v]));
        e.status = p.response.status;
        e.acao = h['access-control-allow-origin'] ?? null;
        e.allowHeaders = h['access-control-allow-headers'] ?? null;
        e.allowMethods = h['access-control-allow-methods'] ?? null;
        if (h['access-control-allow-credentials']) e.acac = h['access-control-allow-credentials'];
        log(`[${e.status}] OPTIONS ${e.url} (preflight)`);
      });
      cdp.on('Network.loadingFailed', (p) => {
        const cors = p.corsErrorStatus ? p.corsErrorStatus.corsError : null;
        const e = preflights.get(p.requestId);
        if (e) {
          e.failure = p.errorText;
          if (cors) e.corsError = cors;
        } else if (cors && sent.has(p.requestId)) {
          corsErrors.set(sent.get(p.requestId), cors);
        }
      });
      await cdp.send('Network.enable');
    } catch (err) {
      log(`[netlog] no CDP session, preflights not recorded: ${err && err.message}`);
    }
  }

  return {
    /** Waits (bounded) for header/body reads, then returns {licenceRequests, requests?}. */
    async finish() {
      await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 10000))]);
      for (const e of entries) {
        const cors = !e.preflight && e.failure && corsErrors.get(`${e.method} ${e.url}`);
        if (cors) e.corsError = cors;
      }
      const licenceRequests = entries.filter((e) => e.method === 'POST')
        .map((e) => ({ url: e.url, status: e.status,
          ...(e.failure ? { failure: e.failure } : {}), ...(e.corsError ? { corsError: e.corsError } : {}) }));
      return record ? { licenceRequests, requests: entries } : { licenceRequests };
    },
  };
}
