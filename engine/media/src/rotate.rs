//! Applying a stream's rotation metadata (the display matrix) to decoded yuv420p pictures, so
//! that frames are marked, encoded and compared the way players show them, as FFmpeg's CLI
//! does with its default autorotation.

use ffmpeg::codec::packet::side_data::Type as SideDataType;
use ffmpeg::format::stream::Stream;
use ffmpeg::format::Pixel;
use ffmpeg::frame;
use ffmpeg_next as ffmpeg;

/// Clockwise rotation (0, 90, 180 or 270 degrees) a player applies to `stream`'s pictures.
pub(crate) fn stream_rotation(stream: &Stream<'_>) -> u16 {
    stream
        .side_data()
        .find(|s| s.kind() == SideDataType::DisplayMatrix)
        .and_then(|s| rotation_of(s.data()))
        .unwrap_or(0)
}

/// The rotation a display matrix (9 little-endian i32, 16.16 fixed point) describes, snapped
/// to quarter turns as FFmpeg's CLI does; `None` for a degenerate matrix.
fn rotation_of(bytes: &[u8]) -> Option<u16> {
    if bytes.len() < 36 {
        return None;
    }
    let m = |i: usize| {
        let v = i32::from_le_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ]);
        v as f64 / 65536.0
    };
    let (s0, s1) = (m(0).hypot(m(3)), m(1).hypot(m(4)));
    if s0 == 0.0 || s1 == 0.0 {
        return None;
    }
    // libavutil's av_display_rotation_get is -atan2(..); the CLI negates it again.
    let theta = (m(1) / s1).atan2(m(0) / s0).to_degrees().round();
    let theta = theta.rem_euclid(360.0);
    [0u16, 90, 180, 270]
        .into_iter()
        .find(|q| (theta - *q as f64).abs() < 1.0 || (theta - 360.0 - *q as f64).abs() < 1.0)
}

/// `src` (yuv420p) turned clockwise by `degrees` (90, 180 or 270); other values return a copy.
pub(crate) fn rotate(src: &frame::Video, degrees: u16) -> frame::Video {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let (dw, dh) = if degrees % 180 == 90 { (h, w) } else { (w, h) };
    let mut dst = frame::Video::new(Pixel::YUV420P, dw as u32, dh as u32);
    for plane in 0..3 {
        let (pw, ph) = if plane == 0 { (w, h) } else { (w.div_ceil(2), h.div_ceil(2)) };
        let (src_stride, dst_stride) = (src.stride(plane), dst.stride(plane));
        let from = src.data(plane);
        let to = dst.data_mut(plane);
        for y in 0..ph {
            for x in 0..pw {
                let (tx, ty) = match degrees {
                    90 => (ph - 1 - y, x),
                    180 => (pw - 1 - x, ph - 1 - y),
                    270 => (y, pw - 1 - x),
                    _ => (x, y),
                };
                to[ty * dst_stride + tx] = from[y * src_stride + x];
            }
        }
    }
    dst.set_pts(src.pts());
    // SAFETY: copying the best-effort timestamp field between two valid frames.
    unsafe {
        (*dst.as_mut_ptr()).best_effort_timestamp = (*src.as_ptr()).best_effort_timestamp;
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(degrees_ccw_storage: f64) -> Vec<u8> {
        // How muxers store a clockwise display rotation r: the matrix of a rotation by -r.
        let r = degrees_ccw_storage.to_radians();
        let fp = |v: f64| ((v * 65536.0).round() as i32).to_le_bytes();
        let mut out = Vec::new();
        for v in [r.cos(), r.sin(), 0.0, -r.sin(), r.cos(), 0.0] {
            out.extend(fp(v));
        }
        out.extend(0i32.to_le_bytes());
        out.extend(0i32.to_le_bytes());
        out.extend((1i32 << 30).to_le_bytes());
        out
    }

    #[test]
    fn quarter_turns_are_read_and_applied() {
        assert_eq!(rotation_of(&matrix(0.0)), Some(0));
        assert_eq!(rotation_of(&matrix(90.0)), Some(90));
        assert_eq!(rotation_of(&matrix(270.0)), Some(270));
        assert_eq!(rotation_of(&[0u8; 36]), None);
        let mut src = frame::Video::new(Pixel::YUV420P, 4, 2);
        let stride = src.stride(0);
        for y in 0..2 {
            for x in 0..4 {
                src.data_mut(0)[y * stride + x] = (10 * y + x) as u8;
            }
        }
        let r = rotate(&src, 90);
        assert_eq!((r.width(), r.height()), (2, 4));
        // Clockwise: the bottom-left source pixel (0, 1) lands top-left.
        assert_eq!(r.data(0)[0], 10);
        assert_eq!(r.data(0)[1], 0);
        let r = rotate(&src, 180);
        assert_eq!(r.data(0)[0], 13);
    }
}
