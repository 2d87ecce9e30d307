// shaka-player adapter for driver.js. Keys: drm.clearKeys; licence server:
// drm.servers['org.w3.clearkey']; token headers through a LICENSE request filter, the media
// token through a SEGMENT one (init and media segments).
// Errors: shaka.util.Error -> {code (number), category, severity, name, message, data, httpStatus?}.
(() => {
  const { safe, nameOf, harnessError } = window.abmarkKit;
  let player = null;

  const isShakaError = (v) => v && typeof v.code === 'number' && typeof v.category === 'number'
    && typeof v.severity === 'number';
  const shakaError = (e, depth = 0) => {
    if (!isShakaError(e)) return harnessError(String((e && e.message) || e));
    const Err = shaka.util.Error;
    const name = nameOf(Err.Code, e.code);
    const category = nameOf(Err.Category, e.category);
    const severity = e.severity === Err.Severity.CRITICAL ? 'CRITICAL' : 'RECOVERABLE';
    const out = { code: e.code, category: e.category, severity, name,
      message: `Shaka Error ${category}.${name} (${e.code})`,
      data: safe(e.data, (v, d) => (isShakaError(v) ? shakaError(v, d + 1) : undefined), depth) };
    // Convenience: the HTTP status behind a failed request (e.g. 6007 wrapping 1001).
    const http = e.code === Err.Code.BAD_HTTP_STATUS ? e
      : (e.data || []).find((x) => x && x.code === Err.Code.BAD_HTTP_STATUS);
    if (http && typeof http.data[1] === 'number') out.httpStatus = http.data[1];
    return out;
  };

  window.abmarkAdapter = {
    name: 'shaka',
    async start(cfg, video, hooks) {
      try {
        shaka.polyfill.installAll();
        if (!shaka.Player.isBrowserSupported()) {
          throw harnessError('shaka: browser not supported (no MSE/EME?)');
        }
        player = new shaka.Player();
        await player.attach(video);
      } catch (e) {
        throw isShakaError(e) ? shakaError(e) : ('code' in Object(e) ? e : harnessError(String(e)));
      }
      player.addEventListener('error', (ev) => {
        const err = shakaError(ev.detail);
        if (err.severity === 'CRITICAL') hooks.fatal(err);
        else hooks.recoverable(err);
      });

      const drm = {};
      if (Object.keys(cfg.clearKeys).length) drm.clearKeys = cfg.clearKeys;
      if (cfg.license) drm.servers = { 'org.w3.clearkey': cfg.license };
      const retry = { maxAttempts: 2, timeout: 15000 };
      player.configure({ drm, streaming: { retryParameters: retry },
        manifest: { retryParameters: retry, ignoreDrmInfo: !!cfg.ignoreDrmInfo } });
      const { LICENSE, SEGMENT } = shaka.net.NetworkingEngine.RequestType;
      player.getNetworkingEngine().registerRequestFilter((type, request) => {
        if (type === LICENSE && cfg.token !== null) {
          request.headers['Authorization'] = `Bearer ${cfg.token}`;
          request.headers['Abmark-Player'] = cfg.playerId;
        } else if (type === SEGMENT && cfg.mediaToken !== null) {
          request.headers['Authorization'] = `Bearer ${cfg.mediaToken}`;
        }
      });
      try {
        await player.load(cfg.manifestUrl);
      } catch (e) {
        throw shakaError(e);
      }
    },
    keySystem: () => (player && player.keySystem()) || null,
    drmInfo: () => {
      const d = player && player.drmInfo();
      return d ? safe({ keySystem: d.keySystem, licenseServerUri: d.licenseServerUri,
        encryptionScheme: d.encryptionScheme, keyIds: d.keyIds,
        videoRobustness: d.videoRobustness, audioRobustness: d.audioRobustness }) : null;
    },
  };
})();
