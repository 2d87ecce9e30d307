// Command line of play.mjs: parses and checks the options, nothing else. The usage text below is
// the reference for every option; README.md (the play.mjs section) explains them with examples.

export const USAGE = `node play.mjs --modules DIR (--dir D --manifest M | --url URL | --page-url URL | --embed URL)
  [--player shaka|dashjs|hlsjs] [--page-origin same|cross]
  [--clearkey KIDHEX:KEYHEX ...] [--license URL] [--token T] [--media-token T] [--page-port N]
  [--seconds 5] [--playback-rate 1] [--timeout 60] [--record]
  [--trust-cert-spki BASE64] [--embed-allow "encrypted-media; autoplay"]
  [--chromium /usr/bin/chromium] [--verbose] [--player-debug] [--ignore-drm-info]`;

export const PLAYERS = ['shaka', 'dashjs', 'hlsjs'];

export function parseArgs(argv) {
  const o = {
    clearkey: [], seconds: 5, timeout: 60, verbose: false, player: 'shaka', pageOrigin: 'same',
    playbackRate: 1, record: false, embedAllow: 'encrypted-media; autoplay',
    chromium: process.env.ABMARK_CHROMIUM || '/usr/bin/chromium',
  };
  const seen = new Set();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    seen.add(a);
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--modules': o.modules = val(); break;
      case '--dir': o.dir = val(); break;
      case '--manifest': o.manifest = val(); break;
      case '--url': o.url = val(); break;
      case '--page-url': o.pageUrl = val(); break;
      case '--embed': o.embed = val(); break;
      case '--embed-allow': o.embedAllow = val(); break;
      case '--player': o.player = val(); break;
      case '--page-origin': o.pageOrigin = val(); break;
      case '--clearkey': o.clearkey.push(val()); break;
      case '--license': o.license = val(); break;
      case '--token': o.token = val(); break;
      case '--media-token': o.mediaToken = val(); break;
      case '--page-port': o.pagePort = Number(val()); break;
      case '--seconds': o.seconds = Number(val()); break;
      case '--playback-rate': o.playbackRate = Number(val()); break;
      case '--timeout': o.timeout = Number(val()); break;
      case '--record': o.record = true; break;
      case '--trust-cert-spki': o.trustCertSpki = val(); break;
      case '--chromium': o.chromium = val(); break;
      case '--verbose': o.verbose = true; break;
      case '--ignore-drm-info': o.ignoreDrmInfo = true; break;
      // --shaka-debug is the old name; it still means "shaka's debug build".
      case '--player-debug': case '--shaka-debug': o.playerDebug = true; o.verbose = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.modules) throw new Error('--modules DIR is required');
  const sources = [o.dir, o.url, o.pageUrl, o.embed].filter((x) => x !== undefined);
  if (sources.length !== 1) {
    throw new Error('give exactly one of --dir (with --manifest), --url, --page-url or --embed');
  }
  if (o.dir !== undefined && !o.manifest) throw new Error('--dir needs --manifest');
  if (o.manifest && o.dir === undefined) throw new Error('--manifest goes with --dir');
  if (!PLAYERS.includes(o.player)) throw new Error(`--player must be one of ${PLAYERS.join('|')}`);
  if (!['same', 'cross'].includes(o.pageOrigin)) throw new Error('--page-origin must be same or cross');
  if (seen.has('--embed-allow') && o.embed === undefined) throw new Error('--embed-allow goes with --embed');
  if (o.pagePort !== undefined) {
    if (!(Number.isInteger(o.pagePort) && o.pagePort > 0 && o.pagePort < 65536)) {
      throw new Error('--page-port wants a port number');
    }
    if (o.embed === undefined && !(o.pageOrigin === 'cross' && o.pageUrl === undefined)) {
      throw new Error('--page-port is the port of the harness\'s own page: with --page-origin cross or --embed');
    }
  }
  if (!(o.seconds >= 0) || !(o.timeout > 0)) throw new Error('--seconds/--timeout must be numbers');
  if (!(o.playbackRate > 0 && o.playbackRate <= 16)) throw new Error('--playback-rate must be in (0, 16]');
  if (o.trustCertSpki !== undefined && !/^[A-Za-z0-9+/]{43}=(,[A-Za-z0-9+/]{43}=)*$/.test(o.trustCertSpki)) {
    throw new Error('--trust-cert-spki wants base64 sha256 SPKI hashes (44 chars, comma-separated)');
  }

  // The page modes play whatever player the page brings: the harness only watches.
  o.pageMode = o.pageUrl !== undefined || o.embed !== undefined;
  if (o.pageMode) {
    const playerOnly = ['--player', '--page-origin', '--clearkey', '--license', '--token',
      '--media-token', '--ignore-drm-info', '--player-debug', '--shaka-debug'].filter((x) => seen.has(x));
    if (playerOnly.length) {
      throw new Error(`${playerOnly.join(', ')}: not with --page-url/--embed (the page brings its own player)`);
    }
  }
  if (o.ignoreDrmInfo && o.player !== 'shaka') throw new Error('--ignore-drm-info is shaka-only');

  const clearKeys = {};
  for (const ck of o.clearkey) {
    const m = /^([0-9a-fA-F]{32}):([0-9a-fA-F]{32})$/.exec(ck);
    if (!m) throw new Error(`--clearkey wants KIDHEX:KEYHEX (32 hex digits each), got ${ck}`);
    clearKeys[m[1].toLowerCase()] = m[2].toLowerCase();
  }
  o.clearKeys = clearKeys;
  if (o.player === 'hlsjs' && o.clearkey.length && o.license !== undefined) {
    throw new Error('hlsjs: --clearkey is served as a licence endpoint of the harness; do not also give --license');
  }
  return o;
}
