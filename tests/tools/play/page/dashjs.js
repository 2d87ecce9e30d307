// dash.js adapter for driver.js. Everything DRM goes through
// player.setProtectionData({'org.w3.clearkey': {clearkeys | serverURL, httpRequestHeaders}});
// the media token through a request interceptor on init and media segments.
// Errors: dash.js's `error` event ({error: {code, message, data}}) -> {code (number), name (the
// constant in dashjs.MediaPlayer.errors / dashjs.Protection.errors without _CODE), message,
// data, httpStatus?}. dash.js has no severity: every `error` event is treated as fatal.
(() => {
  const { safe, nameOf, hexToB64url, harnessError } = window.abmarkKit;
  let player = null;
  let selectedKeySystem = null;

  const errorTables = () => [dashjs.MediaPlayer && dashjs.MediaPlayer.errors,
    dashjs.Protection && dashjs.Protection.errors].filter(Boolean);
  const dashError = (e) => {
    if (!e || typeof e.code !== 'number') return harnessError(`dash.js: ${(e && e.message) || e}`);
    let name = null;
    for (const t of errorTables()) {
      // Mostly FOO_CODE; a few (NO_SUPPORTED_KEY_IDS = 36) have no suffix.
      const k = Object.keys(t).find((key) => typeof t[key] === 'number' && t[key] === e.code);
      if (k) { name = k.replace(/_CODE$/, ''); break; }
    }
    // The media element's own errors come through with its code (3 = MEDIA_ERR_DECODE).
    const me = /^(MEDIA_ERR_[A-Z_]+)/.exec(String(e.message || ''));
    if (!name && me) name = me[1];
    const data = e.data || {};
    const out = { code: e.code, name, severity: 'CRITICAL', message: String(e.message || ''),
      data: safe(data) };
    // Licence failures carry {responseCode} only when the body was non-empty; the message always
    // has `status is "..." (403)`.
    let status = data.responseCode || (data.response && data.response.status)
      || (data.request && data.request.httpResponseCode) || null;
    if (!status) {
      const m = /\((\d{3})\)/.exec(out.message);
      if (m) status = Number(m[1]);
    }
    if (typeof status === 'number' && status > 0) out.httpStatus = status;
    return out;
  };

  window.abmarkAdapter = {
    name: 'dashjs',
    start(cfg, video, hooks) {
      if (typeof dashjs === 'undefined') throw harnessError('dash.js did not load');
      const E = dashjs.MediaPlayer.events;
      player = dashjs.MediaPlayer().create();
      if (cfg.debug) player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_DEBUG } });
      player.initialize();

      const ck = {};
      const keys = Object.entries(cfg.clearKeys);
      if (keys.length) {
        ck.clearkeys = Object.fromEntries(keys.map(([kid, key]) => [hexToB64url(kid), hexToB64url(key)]));
      }
      if (cfg.license) ck.serverURL = cfg.license;
      if (cfg.token !== null) {
        ck.httpRequestHeaders = { Authorization: `Bearer ${cfg.token}`, 'Abmark-Player': cfg.playerId };
      }
      if (Object.keys(ck).length) player.setProtectionData({ 'org.w3.clearkey': ck });
      if (cfg.mediaToken !== null) {
        player.addRequestInterceptor((request) => {
          const type = request.customData && request.customData.request && request.customData.request.type;
          if (type === 'MediaSegment' || type === 'InitializationSegment') {
            request.headers = { ...(request.headers || {}), Authorization: `Bearer ${cfg.mediaToken}` };
          }
          return Promise.resolve(request);
        });
      }

      return new Promise((resolve, reject) => {
        let initialised = false;
        player.on(E.ERROR, (ev) => {
          const err = dashError(ev && ev.error);
          if (initialised) hooks.fatal(err);
          else reject(err);
        });
        if (E.KEY_SYSTEM_SELECTED) {
          player.on(E.KEY_SYSTEM_SELECTED, (ev) => {
            const access = ev && ev.data;
            selectedKeySystem = (access && (access.selectedSystemString
              || (access.keySystem && access.keySystem.systemString))) || selectedKeySystem;
          });
        }
        player.on(E.STREAM_INITIALIZED, () => { initialised = true; resolve(); });
        player.attachView(video);
        player.attachSource(cfg.manifestUrl);
      });
    },
    keySystem: () => selectedKeySystem,
    drmInfo: () => null,
    setRate: (r) => player.setPlaybackRate(r),
  };
})();
