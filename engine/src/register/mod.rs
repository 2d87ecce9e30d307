//! Registration: bringing a copy back to the reference's geometry and tone.
//!
//! A pirated copy may be rescaled, cropped, letterboxed, shifted, brightened or gamma-shifted.
//! Detection works in the reference's coordinates, so we estimate a [`Transform`] from reference
//! pixels to copy pixels ([`coarse`]: scale search with phase correlation on small images, then
//! [`refine`]: direct maximisation of the block-level correlation), read the copy at the
//! reference's block positions through an integral image ([`sample`]), and map the reference's
//! grey levels to the copy's with a fitted [`tone::ToneCurve`] before subtracting.
//! This module decides nothing about symbols.

pub mod coarse;
pub mod refine;
pub mod sample;
pub mod temporal;
pub mod tone;

pub use sample::{sample_grid, RegionGrid};
pub use tone::ToneCurve;

/// Axis-aligned map from reference pixel coordinates to copy pixel coordinates, about the
/// reference's centre: `x_copy = sx * (x_ref - cx) + ux` and likewise for y. Scale, crop,
/// letterbox, shift and aspect change are all of this form.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transform {
    pub sx: f64,
    pub sy: f64,
    /// Reference centre.
    pub cx: f64,
    pub cy: f64,
    /// Where the reference centre lands in the copy.
    pub ux: f64,
    pub uy: f64,
}

impl Transform {
    /// The identity for a reference of this size.
    pub fn identity(ref_width: usize, ref_height: usize) -> Self {
        let (cx, cy) = (ref_width as f64 / 2.0, ref_height as f64 / 2.0);
        Self { sx: 1.0, sy: 1.0, cx, cy, ux: cx, uy: cy }
    }

    /// Copy coordinates of a reference point.
    #[inline]
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (self.sx * (x - self.cx) + self.ux, self.sy * (y - self.cy) + self.uy)
    }

    /// The same map as `x_copy = sx * x_ref + tx`: the offsets of the reference origin.
    pub fn offsets(&self) -> (f64, f64) {
        (self.ux - self.sx * self.cx, self.uy - self.sy * self.cy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_maps_points_to_themselves() {
        let t = Transform::identity(1280, 720);
        assert_eq!(t.apply(10.0, 700.0), (10.0, 700.0));
        assert_eq!(t.offsets(), (0.0, 0.0));
    }
}
