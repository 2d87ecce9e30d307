//! The peers' figures from an `eval peers` JSON report, reduced to what the benchmark shows
//! next to abmark's: PSNR, embed and read time per frame, majority-vote accuracy per attack.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::model::PeerMethod;

#[derive(Deserialize)]
struct PeersFile {
    methods: Vec<Method>,
    cells: Vec<Cell>,
}

#[derive(Deserialize)]
struct Method {
    method: String,
    ms_per_frame: f64,
    psnr_y: f64,
}

#[derive(Deserialize)]
struct Cell {
    method: String,
    attack: String,
    voted_accuracy: f64,
    extract_ms_per_frame: f64,
}

pub fn load(file: &Path) -> anyhow::Result<Vec<PeerMethod>> {
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let peers: PeersFile =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", file.display()))?;
    Ok(peers
        .methods
        .into_iter()
        .map(|m| {
            let cells: Vec<&Cell> = peers.cells.iter().filter(|c| c.method == m.method).collect();
            let read = cells.iter().map(|c| c.extract_ms_per_frame).sum::<f64>()
                / cells.len().max(1) as f64;
            PeerMethod {
                accuracy: cells.iter().map(|c| (c.attack.clone(), c.voted_accuracy)).collect(),
                method: m.method,
                psnr_y: m.psnr_y,
                embed_ms_per_frame: m.ms_per_frame,
                read_ms_per_frame: read,
            }
        })
        .collect())
}
