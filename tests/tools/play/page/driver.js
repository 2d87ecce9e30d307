// Runs in the harness's player page (after the player library, before the adapter). Defines
// `abmarkPlay(cfg)`, the player-independent part of a run: the deadline, the progress check,
// the playback rate, the media element's own errors and the result object. Each adapter
// (shaka.js, dashjs.js, hlsjs.js) sets `window.abmarkAdapter` = {
//   name,
//   start(cfg, video, hooks) -> Promise: configure the player and load cfg.manifestUrl; resolve
//     once video.play() may be called; reject with an error object (already mapped);
//     hooks.fatal(err) / hooks.recoverable(err) report player errors later on;
//   keySystem() / drmInfo() -> diagnostics or null, setRate(r) optional.
// }
// Error objects: {code, name, message, data, httpStatus?} (+ category/severity where the player
// has them); code null = not the player's (timeout, media element, harness).
(() => {
  // JSON-safe copy of arbitrary player data: bounded depth/length, no functions, no buffers.
  const safe = (v, hook, depth = 0) => {
    if (v === null || v === undefined) return null;
    if (typeof v === 'number' || typeof v === 'boolean') return v;
    if (typeof v === 'string') return v.length > 500 ? v.slice(0, 500) + '…' : v;
    if (depth > 3) return String(v);
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return `<${v.byteLength} bytes>`;
    if (typeof XMLHttpRequest !== 'undefined' && v instanceof XMLHttpRequest) {
      return { xhrStatus: v.status, responseURL: v.responseURL };
    }
    if (typeof Node !== 'undefined' && v instanceof Node) return `<${v.nodeName}>`;
    if (v instanceof Set) return [...v].slice(0, 20).map((x) => safe(x, hook, depth + 1));
    if (Array.isArray(v)) return v.slice(0, 20).map((x) => safe(x, hook, depth + 1));
    const mapped = hook ? hook(v, depth) : undefined;
    if (mapped !== undefined) return mapped;
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v).slice(0, 30)) {
        if (typeof v[k] !== 'function') out[k] = safe(v[k], hook, depth + 1);
      }
      return out;
    }
    return String(v);
  };
  const nameOf = (table, value) => {
    for (const [k, v] of Object.entries(table || {})) if (v === value) return k;
    return null;
  };
  const hexToB64url = (hex) => btoa(String.fromCharCode(...hex.match(/../g).map((h) => parseInt(h, 16))))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const harnessError = (message, name = null) => ({ code: null, name, severity: 'CRITICAL', message });
  window.abmarkKit = { safe, nameOf, hexToB64url, harnessError };

  window.abmarkPlay = async (cfg) => {
    const adapter = window.abmarkAdapter;
    const video = document.getElementById('v');
    video.muted = true;
    const result = { ok: false, player: adapter ? adapter.name : null, currentTime: 0,
      playbackRate: 1, error: null, mediaError: null, decodedFrames: 0, droppedFrames: 0,
      keySystem: null, drmInfo: null, eme: null, recoverable: [], manifestUrl: cfg.manifestUrl };
    const fill = () => {
      result.currentTime = video.currentTime;
      result.playbackRate = video.playbackRate;
      const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
      result.decodedFrames = q ? q.totalVideoFrames : (video.webkitDecodedFrameCount || 0);
      result.droppedFrames = q ? q.droppedVideoFrames : (video.webkitDroppedFrameCount || 0);
      result.mediaError = video.error ? { code: video.error.code, message: video.error.message } : null;
      const eme = window.__abmarkEme;
      result.eme = eme ? safe(eme) : null;
      try {
        result.keySystem = (adapter && adapter.keySystem && adapter.keySystem())
          || (eme && eme.created.length ? eme.created[eme.created.length - 1] : null);
        result.drmInfo = adapter && adapter.drmInfo ? adapter.drmInfo() : null;
      } catch (e) { /* diagnostics only */ }
      return result;
    };
    if (!adapter) {
      result.error = harnessError('no player adapter loaded (script error? see stderr)');
      return fill();
    }

    return await new Promise((resolve) => {
      let done = false, rateSet = cfg.playbackRate === 1;
      const finish = (err) => {
        if (done) return;
        done = true;
        if (err) result.error = err;
        fill();
        result.ok = !result.error && result.currentTime >= cfg.seconds;
        resolve(result);
      };
      const hooks = {
        fatal: (err) => finish(err),
        recoverable: (err) => { if (result.recoverable.length < 20) result.recoverable.push(err); },
      };
      video.addEventListener('error', () => {
        // Players usually turn this into their own error; this is the fallback if they do not.
        const me = video.error;
        setTimeout(() => finish(harnessError(
          `HTMLMediaElement error ${me && me.code}: ${me && me.message}`, 'MEDIA_ELEMENT_ERROR')), 500);
      });
      const deadline = setTimeout(() => finish(harnessError(
        `timeout after ${cfg.timeoutMs} ms (currentTime ${video.currentTime.toFixed(3)}`
        + ` < ${cfg.seconds}, readyState ${video.readyState})`, 'TIMEOUT')), cfg.timeoutMs);
      const tick = setInterval(() => {
        if (done) { clearInterval(tick); clearTimeout(deadline); return; }
        if (!rateSet && video.currentTime > 0 && !video.paused) {
          rateSet = true;
          if (adapter.setRate) adapter.setRate(cfg.playbackRate);
          else video.playbackRate = cfg.playbackRate;
        }
        if (video.currentTime >= cfg.seconds) finish(null);
        else if (video.ended) {
          finish(harnessError(`ended at ${video.currentTime.toFixed(3)} s before ${cfg.seconds} s`, 'ENDED'));
        }
      }, 100);

      let started;
      try {
        started = adapter.start(cfg, video, hooks);
      } catch (e) {
        started = Promise.reject(harnessError(`${adapter.name}: ${e && e.message || e}`));
      }
      started.then(() => {
        if (done) return;
        const p = video.play();
        // A decode failure (wrong key) pauses the element, so play() rejects with AbortError
        // first; give the player's own error and the media element's a moment to come in.
        if (p && p.catch) {
          p.catch((e) => setTimeout(() => finish(harnessError(
            `video.play() rejected: ${e && e.name}: ${e && e.message}`, 'PLAY_REJECTED')), 1500));
        }
      }, (err) => finish(err && 'code' in err ? err : harnessError(String(err && err.message || err))));
    });
  };
})();
