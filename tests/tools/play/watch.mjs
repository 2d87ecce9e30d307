// --page-url / --embed: the page brings its own player; the harness only watches. It polls every
// frame of the page (Playwright frames: the page and its iframes) for the first <video> and for
// an element with `data-abmark-error` (the page's way of saying "my player failed").

const POLL_MS = 200;

// Runs in each frame; must be self-contained (Playwright serialises it).
function probeFrame(rate) {
  const errEl = document.querySelector('[data-abmark-error]');
  const v = document.querySelector('video');
  const out = { errorEl: errEl ? { code: errEl.getAttribute('data-abmark-error'),
    text: (errEl.textContent || '').trim().slice(0, 500) } : null, video: null,
  eme: window.__abmarkEme || null };
  if (v) {
    if (rate !== 1 && !v.__abmarkRateSet && v.currentTime > 0 && !v.paused) {
      v.__abmarkRateSet = true;
      v.playbackRate = rate;
    }
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    out.video = { currentTime: v.currentTime, playbackRate: v.playbackRate, ended: v.ended,
      readyState: v.readyState, decodedFrames: q ? q.totalVideoFrames : 0,
      droppedFrames: q ? q.droppedVideoFrames : 0,
      mediaError: v.error ? { code: v.error.code, message: v.error.message } : null };
  }
  return out;
}

/**
 * Watches until the first video reaches `seconds`, an error element appears, the frame is
 * blocked (embed: `blocked()` returns a reason) or `timeoutMs` passes. Returns the result fields.
 */
export async function watchPage(page, { seconds, timeoutMs, playbackRate, embed, blocked }) {
  const deadline = Date.now() + timeoutMs;
  const result = { ok: false, currentTime: 0, playbackRate: 1, error: null, mediaError: null, decodedFrames: 0,
    droppedFrames: 0, keySystem: null, eme: null, videoFrame: null };
  if (embed) result.frameBlocked = false;
  let mediaErrorSince = null, blockedSince = null;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  for (;;) {
    let video = null, frameUrl = null, eme = null;
    for (const frame of page.frames()) {
      if (embed && frame !== page.mainFrame() && frame.url().startsWith('chrome-error://')) {
        result.frameBlocked = true;
      }
      const s = await frame.evaluate(probeFrame, playbackRate).catch(() => null);
      if (!s) continue;
      if (s.errorEl) {
        Object.assign(result, { error: { code: s.errorEl.code, name: 'PAGE_ERROR',
          message: s.errorEl.text }, eme: s.eme, videoFrame: frame.url() });
        if (s.video) fillVideo(result, s.video);
        return result;
      }
      if (!video && s.video) { video = s.video; frameUrl = frame.url(); eme = s.eme; }
    }
    const why = embed && blocked();
    // The console message (the reason) may trail the error page by a moment.
    if (why || (result.frameBlocked && (blockedSince ??= Date.now()) < Date.now() - 1000)) {
      result.frameBlocked = true;
      result.error = { code: null, name: 'FRAME_BLOCKED', message: why || 'iframe shows chrome-error://' };
      return result;
    }
    if (video) {
      fillVideo(result, video);
      result.eme = eme;
      result.videoFrame = frameUrl;
      if (video.currentTime >= seconds) { result.ok = true; return result; }
      if (video.mediaError) {
        // Give the page's player a moment to show its own data-abmark-error.
        mediaErrorSince ??= Date.now();
        if (Date.now() - mediaErrorSince > 1500) {
          result.error = { code: null, name: 'MEDIA_ELEMENT_ERROR',
            message: `HTMLMediaElement error ${video.mediaError.code}: ${video.mediaError.message}` };
          return result;
        }
      }
      if (video.ended) {
        result.error = { code: null, name: 'ENDED',
          message: `ended at ${video.currentTime.toFixed(3)} s before ${seconds} s` };
        return result;
      }
    }
    if (Date.now() >= deadline) {
      result.error = { code: null, name: 'TIMEOUT', message: `timeout after ${timeoutMs} ms (`
        + (video ? `currentTime ${video.currentTime.toFixed(3)} < ${seconds}, readyState ${video.readyState}`
          : 'no <video> in any frame') + ')' };
      return result;
    }
    await sleep(POLL_MS);
  }
}

function fillVideo(result, v) {
  result.currentTime = v.currentTime;
  result.playbackRate = v.playbackRate;
  result.decodedFrames = v.decodedFrames;
  result.droppedFrames = v.droppedFrames;
  result.mediaError = v.mediaError;
}
