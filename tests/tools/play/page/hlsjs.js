// hls.js adapter for driver.js. DRM: emeEnabled + drmSystems['org.w3.clearkey'].licenseUrl
// (hls.js cannot take raw keys: for --clearkey play.mjs points licenseUrl at its own ClearKey
// endpoint); token headers in licenseXhrSetup (licence requests only), the media token in an
// fLoader (fragments and init segments). hls.js only starts EME
// for a playlist with #EXT-X-KEY KEYFORMAT="org.w3.clearkey" (see README).
// Errors: hls.js ERROR events -> {code: details (e.g. "keySystemLicenseRequestFailed"),
// name: its Hls.ErrorDetails constant, category: type (e.g. "keySystemError"), severity
// (fatal -> CRITICAL), message, data, httpStatus?}. Non-fatal errors go to `recoverable`.
(() => {
  const { safe, nameOf, harnessError } = window.abmarkKit;
  let hls = null;

  const hlsError = (d) => {
    const msg = (d.error && d.error.message) || d.reason || (d.err && d.err.message) || '';
    const out = { code: d.details || null, name: nameOf(Hls.ErrorDetails, d.details),
      category: d.type || null, severity: d.fatal ? 'CRITICAL' : 'RECOVERABLE',
      message: `hls.js ${d.type}/${d.details}${msg ? ': ' + msg : ''}`,
      data: safe({ url: d.url || (d.frag && d.frag.url) || (d.context && d.context.url) || null,
        response: d.response || null, reason: d.reason || null,
        keySystem: d.decryptdata ? d.decryptdata.keyFormat : undefined }) };
    const status = (d.response && d.response.code)
      || (d.networkDetails && typeof d.networkDetails.status === 'number' && d.networkDetails.status);
    if (typeof status === 'number' && status > 0) out.httpStatus = status;
    return out;
  };

  window.abmarkAdapter = {
    name: 'hlsjs',
    start(cfg, video, hooks) {
      if (typeof Hls === 'undefined') throw harnessError('hls.js did not load');
      if (!Hls.isSupported()) throw harnessError('hls.js: browser not supported (no MSE?)');
      const config = {
        debug: !!cfg.debug,
        emeEnabled: true,
        drmSystems: { 'org.w3.clearkey': { licenseUrl: cfg.license || undefined } },
      };
      if (cfg.token !== null) {
        config.licenseXhrSetup = (xhr, url) => {
          xhr.open('POST', url, true);
          xhr.setRequestHeader('Authorization', `Bearer ${cfg.token}`);
          xhr.setRequestHeader('Abmark-Player', cfg.playerId);
        };
      }
      if (cfg.mediaToken !== null) {
        // fLoader loads fragments and init segments only; XhrLoader sends context.headers.
        const Base = Hls.DefaultConfig.loader;
        config.fLoader = class extends Base {
          load(context, loaderConfig, callbacks) {
            context.headers = { ...(context.headers || {}), Authorization: `Bearer ${cfg.mediaToken}` };
            super.load(context, loaderConfig, callbacks);
          }
        };
      }
      hls = new Hls(config);
      return new Promise((resolve, reject) => {
        let parsed = false;
        hls.on(Hls.Events.ERROR, (_ev, data) => {
          const err = hlsError(data || {});
          if (!data || !data.fatal) hooks.recoverable(err);
          else if (parsed) hooks.fatal(err);
          else reject(err);
        });
        hls.on(Hls.Events.MANIFEST_PARSED, () => { parsed = true; resolve(); });
        hls.loadSource(cfg.manifestUrl);
        hls.attachMedia(video);
      });
    },
    keySystem: () => null, // from the EME observer
    drmInfo: () => null,
  };
})();
