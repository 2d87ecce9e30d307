//! Benchmarks live in `benches/benches/`; this library gives them their 1080p frames and a
//! CPU-time clock.

pub mod cpu_time;
pub mod frames;
