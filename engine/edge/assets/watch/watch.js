// abmark's player page: plays a viewer's personalised, encrypted DASH stream from this edge in
// shaka-player, through the edge's ClearKey licence service.
//
// The embedding site hands over the viewer's two tokens (the WM token for the manifest, the
// licence token for keys) in the URL fragment (#wm=...&lic=...), which browsers never send to a
// server nor put in a Referer, or by postMessage({type: 'abmark-tokens', wm, lic}) from the
// embedding window. Tokens travel only in Authorization headers, never in URLs.
//
// Whatever fails, the page says what in #message (with data-abmark-error set to the edge's
// refusal code), so a viewer never looks at a blank player.
'use strict';

(function () {
  const MESSAGES = {
    'token-expired': 'This viewing link has expired. Reload the page to get a new one.',
    'token-missing': 'The player was given no viewing token.',
    'token-invalid': 'The viewing token was refused.',
    'wrong-content': 'The viewing token is for another video.',
    'backend-refused': 'Your account may not watch this video right now (refused by the site).',
    'subject-denied': 'This account is blocked from playback.',
    'too-fast': 'This stream was fetched far faster than it can be watched; playback is paused.',
    'stream-limit': 'Too many streams are playing on this account. Stop one and try again.',
    'domain-not-allowed': 'This video cannot be played on this website (domain not allowed).',
    'network': 'Network error: the video could not be loaded. Check the connection and retry.',
    'unsupported': 'This browser cannot play protected video here (no ClearKey support, or ' +
      'the page is not in a secure context).',
    'player': 'Playback failed.',
  };

  const video = document.getElementById('video');
  const message = document.getElementById('message');
  let shown = false;

  function show(code, detail) {
    if (shown) return;
    shown = true;
    message.hidden = false;
    message.dataset.abmarkError = code;
    message.firstElementChild.textContent = (MESSAGES[code] || MESSAGES.player) +
      (detail ? ' (' + detail + ')' : '');
  }

  function hideLoading() {
    if (!shown) message.hidden = true;
  }

  // The site embedding this page, as the browser reports it (not the page's word).
  function embedder() {
    const ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) return ancestors[ancestors.length - 1];
    if (window.top !== window && document.referrer) {
      try { return new URL(document.referrer).origin; } catch (e) { return null; }
    }
    return null;
  }

  function tokensFromFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const wm = params.get('wm');
    const lic = params.get('lic');
    if (!wm || !lic) return null;
    // Out of the address bar and the history: nothing left to copy or to leak.
    history.replaceState(null, '', window.location.pathname + window.location.search);
    return { wm, lic };
  }

  function tokensFromParent() {
    return new Promise((resolve) => {
      const from = embedder();
      window.addEventListener('message', function onMessage(event) {
        const d = event.data;
        if (event.source !== window.parent || (from && event.origin !== from)) return;
        if (!d || d.type !== 'abmark-tokens' || typeof d.wm !== 'string' ||
            typeof d.lic !== 'string') return;
        window.removeEventListener('message', onMessage);
        resolve({ wm: d.wm, lic: d.lic });
      });
      if (window.parent !== window) window.parent.postMessage({ type: 'abmark-ready' }, '*');
    });
  }

  // The refusal code of a failed request: the edge's Abmark-Refusal header, else by status.
  function refusalOf(error) {
    const seen = new Set();
    const walk = (e) => {
      if (!e || typeof e !== 'object' || seen.has(e)) return null;
      seen.add(e);
      if (e.code === shaka.util.Error.Code.BAD_HTTP_STATUS) {
        const headers = e.data[3] || {};
        return headers['abmark-refusal'] || (e.data[1] >= 500 ? 'network' : 'player');
      }
      if (e.code === shaka.util.Error.Code.HTTP_ERROR ||
          e.code === shaka.util.Error.Code.TIMEOUT) return 'network';
      for (const d of e.data || []) {
        const found = walk(d);
        if (found) return found;
      }
      return null;
    };
    return walk(error);
  }

  function playerId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function start() {
    if (!window.shaka || !shaka.Player.isBrowserSupported() || !window.isSecureContext) {
      show('unsupported');
      return;
    }
    shaka.polyfill.installAll();
    const tokens = tokensFromFragment() || await tokensFromParent();
    const player = new shaka.Player();
    await player.attach(video);
    const site = embedder();
    const id = playerId();
    const licence = new URL('/license', window.location.href).href;
    player.configure({ drm: { servers: { 'org.w3.clearkey': licence } } });
    const Type = shaka.net.NetworkingEngine.RequestType;
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      if (type === Type.MANIFEST || type === Type.SEGMENT) {
        // On segments too: the keyed segment names alone do not say whose they are; the token
        // holds this viewer to the deny list and the live rules and names them in the access log.
        request.headers['Authorization'] = 'Bearer ' + tokens.wm;
      } else if (type === Type.LICENSE) {
        request.headers['Authorization'] = 'Bearer ' + tokens.lic;
        request.headers['Abmark-Player'] = id;
      } else {
        return;
      }
      if (site) request.headers['Abmark-Embedder'] = site;
    });
    // Free the stream slot at once when the viewer leaves, not at licence expiry.
    window.addEventListener('pagehide', () => {
      const headers = { 'Authorization': 'Bearer ' + tokens.lic, 'Abmark-Player': id };
      if (site) headers['Abmark-Embedder'] = site;
      fetch('/license/release', { method: 'POST', keepalive: true, headers }).catch(() => {});
    });
    player.addEventListener('error', (event) => {
      show(refusalOf(event.detail) || 'player', 'error ' + event.detail.code);
    });
    video.addEventListener('playing', hideLoading);
    try {
      await player.load('/dash/manifest.mpd');
      video.muted = true; // autoplay policies allow muted playback only
      await video.play().catch(() => {});
    } catch (error) {
      show(refusalOf(error) || 'player', 'error ' + (error && error.code));
    }
  }

  const run = () => start().catch((e) => show('player', String((e && e.message) || e)));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
  else run();
}());
