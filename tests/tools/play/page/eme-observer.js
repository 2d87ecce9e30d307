// Installed by play.mjs (context.addInitScript) into every frame before any page script runs:
// records which key systems the page asked EME for and which one it created MediaKeys from, so
// `keySystem` can be reported for any player, including players inside pages we do not control.
// It must run first because some players (hls.js) bind navigator.requestMediaKeySystemAccess
// when their script loads.
(() => {
  const log = { requested: [], created: [] };
  Object.defineProperty(window, '__abmarkEme', { value: log, enumerable: false });
  const nav = window.navigator;
  if (!nav || typeof nav.requestMediaKeySystemAccess !== 'function') return;
  const request = nav.requestMediaKeySystemAccess;
  nav.requestMediaKeySystemAccess = function (keySystem, configs) {
    const entry = { keySystem: String(keySystem), ok: null };
    if (log.requested.length < 50) log.requested.push(entry);
    return request.call(this, keySystem, configs).then((access) => {
      entry.ok = true;
      return access;
    }, (err) => {
      entry.ok = false;
      entry.error = `${err && err.name}: ${err && err.message}`;
      throw err;
    });
  };
  // shaka asks through MediaCapabilities (decodingInfo with a keySystemConfiguration) instead.
  const mc = nav.mediaCapabilities;
  if (mc && typeof mc.decodingInfo === 'function') {
    const decodingInfo = mc.decodingInfo;
    mc.decodingInfo = function (config) {
      const ks = config && config.keySystemConfiguration && config.keySystemConfiguration.keySystem;
      const p = decodingInfo.call(this, config);
      if (!ks || log.requested.length >= 50) return p;
      const entry = { keySystem: String(ks), ok: null, via: 'mediaCapabilities' };
      log.requested.push(entry);
      return p.then((info) => {
        entry.ok = !!(info && info.supported && info.keySystemAccess);
        return info;
      }, (err) => {
        entry.ok = false;
        entry.error = `${err && err.name}: ${err && err.message}`;
        throw err;
      });
    };
  }
  if (typeof MediaKeySystemAccess !== 'undefined') {
    const create = MediaKeySystemAccess.prototype.createMediaKeys;
    MediaKeySystemAccess.prototype.createMediaKeys = function () {
      if (log.created.length < 50) log.created.push(this.keySystem);
      return create.call(this);
    };
  }
})();
