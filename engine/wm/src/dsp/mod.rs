//! Small signal-processing building blocks shared by the watermark and the registration:
//! a planned 2-D FFT and integral images. No knowledge of keys, frames or files.

pub mod fft2;
pub mod integral;

pub use fft2::Fft2;
pub use integral::IntegralImage;
