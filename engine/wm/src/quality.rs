//! Picture quality of a marked frame against its source: PSNR and SSIM of luma.
//!
//! SSIM uses 8x8 windows every 4 pixels with the usual constants (K1 0.01, K2 0.03, L 255), as
//! FFmpeg's `ssim` filter does, so figures are comparable with `ffmpeg -lavfi ssim`.

use crate::frame::Luma;

/// Sum of squared differences of `b` against `a` (same size).
pub fn sse(a: &Luma<'_>, b: &Luma<'_>) -> u64 {
    (0..a.height)
        .map(|y| {
            let row = a.row(y).iter().zip(b.row(y));
            row.map(|(&x, &y)| (x as i32 - y as i32).pow(2) as u64).sum::<u64>()
        })
        .sum()
}

/// PSNR in dB for a mean squared error; infinite when it is zero.
pub fn psnr_of_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// PSNR in dB of `b` against `a` (same size); infinite when identical.
pub fn psnr(a: &Luma<'_>, b: &Luma<'_>) -> f64 {
    psnr_of_mse(sse(a, b) as f64 / (a.width * a.height) as f64)
}

/// Mean SSIM of `b` against `a` over 8x8 windows on a 4-pixel step.
pub fn ssim(a: &Luma<'_>, b: &Luma<'_>) -> f64 {
    const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
    const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
    let (mut total, mut windows) = (0.0, 0usize);
    let mut y = 0;
    while y + 8 <= a.height {
        let mut x = 0;
        while x + 8 <= a.width {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0u32, 0u32, 0u32, 0u32, 0u32);
            for yy in y..y + 8 {
                for (&p, &q) in a.row(yy)[x..x + 8].iter().zip(&b.row(yy)[x..x + 8]) {
                    let (p, q) = (p as u32, q as u32);
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let n = 64.0;
            let (ma, mb) = (sa as f64 / n, sb as f64 / n);
            let va = saa as f64 / n - ma * ma;
            let vb = sbb as f64 / n - mb * mb;
            let cov = sab as f64 / n - ma * mb;
            total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            windows += 1;
            x += 4;
        }
        y += 4;
    }
    if windows == 0 {
        1.0
    } else {
        total / windows as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OwnedLuma;

    #[test]
    fn identical_is_perfect_and_noise_costs() {
        let mut a = OwnedLuma::new(64, 64);
        for (i, p) in a.data.iter_mut().enumerate() {
            *p = (i % 200) as u8;
        }
        let mut b = a.clone();
        assert_eq!(psnr(&a.view(), &b.view()), f64::INFINITY);
        assert!((ssim(&a.view(), &b.view()) - 1.0).abs() < 1e-12);
        for (i, p) in b.data.iter_mut().enumerate() {
            if i % 2 == 0 {
                *p += 2;
            }
        }
        // Half the pixels off by 2: MSE 2, PSNR 45.1 dB.
        assert!((psnr(&a.view(), &b.view()) - 45.12).abs() < 0.01);
        assert!(ssim(&a.view(), &b.view()) < 1.0);
    }
}
