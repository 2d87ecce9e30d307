//! [`remux`]: several single-purpose files (a video track, an audio track) stream-copied into
//! one MP4, packets interleaved by time. Nothing is decoded or re-encoded, so the output holds
//! exactly the input's coded pictures and audio frames.

use std::path::Path;

use ffmpeg::{codec, format, media, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::MediaError;

/// One input's packets, read one ahead so the earliest of all inputs can be written next.
struct Track {
    input: format::context::Input,
    /// Input stream index -> (output stream index, input time base).
    map: Vec<Option<(usize, Rational)>>,
    next: Option<Packet>,
}

impl Track {
    fn advance(&mut self, path: &Path) -> Result<(), MediaError> {
        self.next = None;
        let mut packet = Packet::empty();
        loop {
            match packet.read(&mut self.input) {
                Ok(()) => {
                    if self.map.get(packet.stream()).copied().flatten().is_some() {
                        self.next = Some(packet);
                        return Ok(());
                    }
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(error) => {
                    return Err(MediaError::Read { path: path.to_owned(), frame: 0, error })
                }
            }
        }
    }

    /// Decode time of the waiting packet in seconds (for interleaving).
    fn next_seconds(&self) -> Option<f64> {
        let packet = self.next.as_ref()?;
        let (_, tb) = self.map.get(packet.stream()).copied().flatten()?;
        let ts = packet.dts().or(packet.pts()).unwrap_or(0);
        Some(ts as f64 * f64::from(tb))
    }
}

/// Copies every video and audio stream of `inputs`, in order, into one MP4 at `out`.
///
/// All or nothing: written to a temp sibling and renamed into place on success.
pub fn remux(inputs: &[&Path], out: &Path) -> Result<(), MediaError> {
    super::init();
    let temp = super::temp_output(out)?;
    let write_error = |error| MediaError::Write { path: out.to_owned(), error };
    let mut octx = format::output_as(temp.path(), "mp4").map_err(write_error)?;

    let mut tracks = Vec::with_capacity(inputs.len());
    for path in inputs {
        let input = format::input(path)
            .map_err(|error| MediaError::Open { path: path.to_path_buf(), error })?;
        let mut map = Vec::new();
        for ist in input.streams() {
            let medium = ist.parameters().medium();
            if medium != media::Type::Video && medium != media::Type::Audio {
                map.push(None);
                continue;
            }
            let mut ost =
                octx.add_stream(codec::encoder::find(codec::Id::None)).map_err(write_error)?;
            ost.set_parameters(ist.parameters());
            ost.set_time_base(ist.time_base());
            // The input's codec tag may not be valid in MP4; let the muxer choose.
            // SAFETY: `ost` owns valid codec parameters; codec_tag is a plain integer field.
            unsafe { (*ost.parameters().as_mut_ptr()).codec_tag = 0 };
            map.push(Some((ost.index(), ist.time_base())));
        }
        tracks.push(Track { input, map, next: None });
    }
    if tracks.iter().all(|t| t.map.iter().all(Option::is_none)) {
        return Err(MediaError::NoVideoStream {
            path: inputs.first().map_or(out, |p| p).to_owned(),
        });
    }
    octx.write_header().map_err(write_error)?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();

    for (track, path) in tracks.iter_mut().zip(inputs) {
        track.advance(path)?;
    }
    loop {
        // The input whose waiting packet is earliest goes next.
        let earliest = tracks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.next_seconds().map(|s| (i, s)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, _)) = earliest else { break };
        let track = &mut tracks[i];
        if let Some(mut packet) = track.next.take() {
            if let Some((ost, ist_tb)) = track.map.get(packet.stream()).copied().flatten() {
                packet.rescale_ts(ist_tb, out_tb[ost]);
                packet.set_stream(ost);
                packet.set_position(-1);
                packet.write_interleaved(&mut octx).map_err(write_error)?;
            }
        }
        track.advance(inputs[i])?;
    }
    octx.write_trailer().map_err(write_error)?;
    drop(octx);
    Ok(temp.persist(out)?)
}
