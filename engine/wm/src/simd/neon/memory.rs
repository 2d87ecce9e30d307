//! The NEON paths' only access to memory: loads and stores of whole vectors from slices. Each
//! checks that the slice holds a whole vector (the check vanishes where the caller's loop bound
//! already implies it), then reads or writes it; NEON loads and stores need no alignment beyond
//! the element's.

use std::arch::aarch64::*;

#[target_feature(enable = "neon")]
pub(super) fn load_u8x16(src: &[u8]) -> uint8x16_t {
    let src = &src[..16];
    // SAFETY: `src` is 16 readable bytes.
    unsafe { vld1q_u8(src.as_ptr()) }
}

#[target_feature(enable = "neon")]
pub(super) fn store_u8x16(dst: &mut [u8], v: uint8x16_t) {
    let dst = &mut dst[..16];
    // SAFETY: `dst` is 16 writable bytes.
    unsafe { vst1q_u8(dst.as_mut_ptr(), v) }
}

/// 32 bytes split by parity: `.0` holds the even-indexed bytes, `.1` the odd ones, in order.
#[target_feature(enable = "neon")]
pub(super) fn load_u8x16x2_deinterleaved(src: &[u8]) -> uint8x16x2_t {
    let src = &src[..32];
    // SAFETY: `src` is 32 readable bytes, exactly what ld2 of two 16-byte registers reads.
    unsafe { vld2q_u8(src.as_ptr()) }
}

#[target_feature(enable = "neon")]
pub(super) fn load_i16x8(src: &[i16]) -> int16x8_t {
    let src = &src[..8];
    // SAFETY: `src` is 8 readable i16.
    unsafe { vld1q_s16(src.as_ptr()) }
}

#[target_feature(enable = "neon")]
pub(super) fn store_i16x8(dst: &mut [i16], v: int16x8_t) {
    let dst = &mut dst[..8];
    // SAFETY: `dst` is 8 writable i16.
    unsafe { vst1q_s16(dst.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
pub(super) fn load_u16x8(src: &[u16]) -> uint16x8_t {
    let src = &src[..8];
    // SAFETY: `src` is 8 readable u16.
    unsafe { vld1q_u16(src.as_ptr()) }
}

#[target_feature(enable = "neon")]
pub(super) fn store_u16x8(dst: &mut [u16], v: uint16x8_t) {
    let dst = &mut dst[..8];
    // SAFETY: `dst` is 8 writable u16.
    unsafe { vst1q_u16(dst.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
pub(super) fn load_u32x4(src: &[u32]) -> uint32x4_t {
    let src = &src[..4];
    // SAFETY: `src` is 4 readable u32.
    unsafe { vld1q_u32(src.as_ptr()) }
}

#[target_feature(enable = "neon")]
pub(super) fn store_u32x4(dst: &mut [u32], v: uint32x4_t) {
    let dst = &mut dst[..4];
    // SAFETY: `dst` is 4 writable u32.
    unsafe { vst1q_u32(dst.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
pub(super) fn load_f32x4(src: &[f32]) -> float32x4_t {
    let src = &src[..4];
    // SAFETY: `src` is 4 readable f32.
    unsafe { vld1q_f32(src.as_ptr()) }
}

#[target_feature(enable = "neon")]
pub(super) fn store_f32x4(dst: &mut [f32], v: float32x4_t) {
    let dst = &mut dst[..4];
    // SAFETY: `dst` is 4 writable f32.
    unsafe { vst1q_f32(dst.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
pub(super) fn load_f64x2(src: &[f64]) -> float64x2_t {
    let src = &src[..2];
    // SAFETY: `src` is 2 readable f64.
    unsafe { vld1q_f64(src.as_ptr()) }
}
