//! A small synthetic benchmark report for the writers' tests: two clips, CRF and scale sweeps, an
//! attack whose name needs escaping, two peers, collusion and innocent copies. The `crf 28`
//! cells are a known case the tests check figures against.

use super::model::*;

pub const ODD_NAME: &str = "it's <odd> & \"quoted\"";

pub fn report() -> BenchReport {
    let sweep = |axis: &str, value: f64| Some(Sweep { axis: axis.into(), value });
    let attacks = vec![
        AttackInfo { name: "crf 23".into(), sweep: sweep("crf", 23.0) },
        AttackInfo { name: "crf 28".into(), sweep: sweep("crf", 28.0) },
        AttackInfo { name: "crf 35".into(), sweep: sweep("crf", 35.0) },
        AttackInfo { name: "scale 0.5".into(), sweep: sweep("scale", 0.5) },
        AttackInfo { name: "scale 0.75".into(), sweep: sweep("scale", 0.75) },
        AttackInfo { name: ODD_NAME.into(), sweep: None },
    ];
    let mut cells = vec![
        // The known case: 27 of 30 right, 2 wrong of 29 decided, blind 3/3, candidate 2/3.
        cell("clip-a", "crf 28", 1, [10, 10, 0, 0], true, Some(12.0)),
        cell("clip-a", "crf 28", 2, [10, 8, 1, 1], true, Some(16.0)),
        cell("clip-b", "crf 28", 3, [10, 9, 1, 0], false, None),
    ];
    for (clip, session) in [("clip-a", 1), ("clip-b", 3)] {
        cells.push(cell(clip, "crf 23", session, [30, 30, 0, 0], true, Some(8.0)));
        cells.push(cell(clip, "crf 35", session, [30, 20, 4, 6], true, Some(40.0)));
        cells.push(cell(clip, "scale 0.5", session, [30, 25, 1, 4], true, Some(20.0)));
        cells.push(cell(clip, "scale 0.75", session, [30, 29, 0, 1], true, Some(10.0)));
        cells.push(cell(clip, ODD_NAME, session, [30, 12, 9, 9], false, None));
    }
    BenchReport {
        command: "eval bench --quick".into(),
        quick: true,
        seconds: 754.0,
        cores: 16,
        log_size: 10_000,
        clips: vec![clip("clip-a", 310.0), clip("clip-b", 180.0)],
        attacks,
        cells,
        collusion: vec![collusion([1, 2], Some(1), "named"), collusion([3, 4], None, "no_session")],
        innocent: vec![
            innocent("unmarked source, crf 28", false),
            innocent("unrelated clip", false),
            innocent("unmarked source, scale 0.5", true),
        ],
        peers: vec![
            peer("invisible-watermark", 4.0, &[("crf 23", 1.0), ("crf 28", 0.75), ("crf 35", 0.5)]),
            peer("blind-watermark", 60.0, &[("crf 23", 0.9), ("scale 0.5", 0.55)]),
        ],
    }
}

/// `counts` is segments, correct, wrong, undecided.
fn cell(
    clip: &str,
    attack: &str,
    session: u32,
    counts: [usize; 4],
    candidate_named: bool,
    seconds_needed: Option<f64>,
) -> CellReport {
    let [segments, correct, wrong, undecided] = counts;
    CellReport {
        clip: clip.into(),
        attack: attack.into(),
        session,
        copy_seconds: 2.0 * segments as f64,
        segments,
        correct,
        wrong,
        undecided,
        symbol_error_rate: wrong as f64 / (correct + wrong).max(1) as f64,
        worst_llr_margin: 6.0 - 3.0 * wrong as f64,
        median_abs_z: 20.0,
        verdict: if candidate_named { "named" } else { "no_session" }.into(),
        blind_named: wrong < 3,
        candidate_named,
        blind_p: Some(1e-9),
        candidate_p: candidate_named.then_some(3.2e-12),
        seconds_needed,
        false_accusation: false,
        detect_seconds: 0.1 * segments as f64,
    }
}

fn clip(name: &str, variants_fps: f64) -> ClipReport {
    let quality = |variant: u8, psnr_y: f64| VariantQuality {
        variant,
        frames: 60,
        step: 25,
        psnr_y,
        ssim: 0.9931,
        ssim_min: 0.9870,
        ssimulacra2: 88.4 + f64::from(variant),
        ssimulacra2_min: 84.0,
    };
    ClipReport {
        name: name.into(),
        width: 1920,
        height: 1080,
        seconds: 60.0,
        frames: 1500,
        segments: 30,
        variants_seconds: 1500.0 / variants_fps,
        variants_fps,
        embed_fps_per_core: 95.0,
        quality: vec![quality(0, 46.2), quality(1, 45.8)],
    }
}

fn collusion(sessions: [u32; 2], named: Option<u32>, verdict: &str) -> CollusionReport {
    CollusionReport {
        clip: "clip-a".into(),
        attack: "crf 28".into(),
        sessions,
        share_first: 0.55,
        verdict: verdict.into(),
        named,
        colluder_p: [3.2e-12, 0.04],
        innocent_named: false,
    }
}

fn innocent(what: &str, accused: bool) -> InnocentReport {
    InnocentReport {
        clip: "clip-a".into(),
        what: what.into(),
        verdict: if accused { "named" } else { "no_session" }.into(),
        accused,
    }
}

fn peer(method: &str, embed_ms_per_frame: f64, accuracy: &[(&str, f64)]) -> PeerMethod {
    PeerMethod {
        method: method.into(),
        psnr_y: 39.5,
        embed_ms_per_frame,
        read_ms_per_frame: embed_ms_per_frame / 2.0,
        accuracy: accuracy.iter().map(|(a, v)| (a.to_string(), *v)).collect(),
    }
}
