//! The AVX2 paths' only access to memory: loads and stores of whole vectors from slices. Each
//! checks that the slice holds a whole vector (the check vanishes where the caller's loop bound
//! already implies it), then reads or writes it unaligned.

use std::arch::x86_64::*;

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_u8x32(src: &[u8]) -> __m256i {
    let src = &src[..32];
    // SAFETY: `src` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn store_u8x32(dst: &mut [u8], v: __m256i) {
    let dst = &mut dst[..32];
    // SAFETY: `dst` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_u8x16(src: &[u8]) -> __m128i {
    let src = &src[..16];
    // SAFETY: `src` is 16 readable bytes; loadu needs no alignment.
    unsafe { _mm_loadu_si128(src.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn widen_u8x8(src: &[u8]) -> __m256i {
    let src = &src[..8];
    // SAFETY: `src` is 8 readable bytes, exactly what loadl reads; it needs no alignment.
    _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(src.as_ptr().cast()) })
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_i16x16(src: &[i16]) -> __m256i {
    let src = &src[..16];
    // SAFETY: `src` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn store_i16x16(dst: &mut [i16], v: __m256i) {
    let dst = &mut dst[..16];
    // SAFETY: `dst` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_u16x16(src: &[u16]) -> __m256i {
    let src = &src[..16];
    // SAFETY: `src` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn store_u16x16(dst: &mut [u16], v: __m256i) {
    let dst = &mut dst[..16];
    // SAFETY: `dst` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_pairs_x8(src: &[[i16; 2]]) -> __m256i {
    let src = &src[..8];
    // SAFETY: eight `[i16; 2]` are 32 contiguous readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_u32x8(src: &[u32]) -> __m256i {
    let src = &src[..8];
    // SAFETY: `src` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn store_u32x8(dst: &mut [u32], v: __m256i) {
    let dst = &mut dst[..8];
    // SAFETY: `dst` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn store_u64x4(dst: &mut [u64; 4], v: __m256i) {
    // SAFETY: `dst` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_f32x8(src: &[f32]) -> __m256 {
    let src = &src[..8];
    // SAFETY: `src` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_ps(src.as_ptr()) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn store_f32x8(dst: &mut [f32], v: __m256) {
    let dst = &mut dst[..8];
    // SAFETY: `dst` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn load_f64x4(src: &[f64; 4]) -> __m256d {
    // SAFETY: `src` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_pd(src.as_ptr()) }
}
