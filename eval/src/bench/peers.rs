//! The peers' figures from an `eval peers` JSON report, reduced to what the benchmark shows
//! next to abmark's: PSNR, embed and read time per frame, majority-vote accuracy per attack.

use std::path::Path;

use anyhow::Context;

use super::model::PeerMethod;
use crate::peers::PeersReport;

pub fn load(file: &Path) -> anyhow::Result<Vec<PeerMethod>> {
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let peers: PeersReport =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", file.display()))?;
    Ok(peers
        .methods
        .into_iter()
        .map(|m| {
            let cells: Vec<_> = peers.cells.iter().filter(|c| c.method == m.method).collect();
            let read = cells.iter().map(|c| c.extract_ms_per_frame).sum::<f64>()
                / cells.len().max(1) as f64;
            PeerMethod {
                accuracy: cells.iter().map(|c| (c.attack.clone(), c.voted_accuracy)).collect(),
                psnr_y: m.psnr_y.unwrap_or(f64::NAN),
                embed_ms_per_frame: m.ms_per_frame,
                read_ms_per_frame: read,
                method: m.method,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_committed_peers_report() {
        let file = crate::repo_root().join("eval/data/peers.json");
        let peers = load(&file).expect("eval/data/peers.json");
        assert_eq!(peers.len(), 3, "three peer methods");
        for p in &peers {
            assert!(p.psnr_y > 30.0 && p.embed_ms_per_frame > 0.0 && p.read_ms_per_frame > 0.0);
            let crf23 = p.accuracy.iter().find(|(a, _)| a == "x264 CRF 23").map(|(_, v)| *v);
            assert!(crf23.is_some_and(|v| (0.0..=1.0).contains(&v)), "{}: {crf23:?}", p.method);
        }
    }

    #[test]
    fn a_missing_report_is_named() {
        let err = load(Path::new("/nonexistent/peers.json")).expect_err("missing file");
        assert!(format!("{err:#}").contains("/nonexistent/peers.json"));
    }
}
