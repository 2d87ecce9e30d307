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
pub mod warp;

pub use sample::{sample_grid, RegionGrid};
pub use tone::ToneCurve;

/// Map from reference pixel coordinates to copy pixel coordinates, about the reference's
/// centre. Its axis-aligned part, `x_copy = sx * (x_ref - cx) + ux` and likewise for y, covers
/// scale, crop, letterbox, shift and aspect change. A filmed or rotated copy also needs the
/// rest of a homography: with `X = x_ref - cx`, `Y = y_ref - cy`,
/// `x_copy = (sx X + kx Y) / w + ux`, `y_copy = (ky X + sy Y) / w + uy`,
/// `w = 1 + px X / cx + py Y / cy`. A rotation by a small angle `a` is `kx = -a sy`,
/// `ky = a sx`; `kx` and `ky` are kept apart (rather than as an angle and a shear) because each
/// moves one coordinate only, which is what a search one parameter at a time needs. The four
/// are zero for almost every copy, and then the map is separable, which sampling exploits.
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
    /// Copy x per reference row away from the centre (rotation, shear).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kx: f64,
    /// Copy y per reference column away from the centre.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ky: f64,
    /// Perspective: relative scale change per half-width (`px`) and per half-height (`py`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub px: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub py: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Transform {
    /// The identity for a reference of this size.
    pub fn identity(ref_width: usize, ref_height: usize) -> Self {
        let (cx, cy) = (ref_width as f64 / 2.0, ref_height as f64 / 2.0);
        Self::axis_aligned(1.0, 1.0, (cx, cy), (cx, cy))
    }

    /// Scale per axis about `centre`, which lands at `lands`.
    pub fn axis_aligned(sx: f64, sy: f64, centre: (f64, f64), lands: (f64, f64)) -> Self {
        let (cx, cy) = centre;
        let (ux, uy) = lands;
        Self { sx, sy, cx, cy, ux, uy, kx: 0.0, ky: 0.0, px: 0.0, py: 0.0 }
    }

    /// True when copy x depends on reference x only, and copy y on reference y only.
    #[inline]
    pub fn is_separable(&self) -> bool {
        self.kx == 0.0 && self.ky == 0.0 && self.px == 0.0 && self.py == 0.0
    }

    /// Copy coordinates of a reference point.
    #[inline]
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        if self.is_separable() {
            return (self.sx * (x - self.cx) + self.ux, self.sy * (y - self.cy) + self.uy);
        }
        let (dx, dy) = (x - self.cx, y - self.cy);
        let w = 1.0 + self.px * dx / self.cx.max(1.0) + self.py * dy / self.cy.max(1.0);
        let w = w.max(1e-3);
        ((self.sx * dx + self.kx * dy) / w + self.ux, (self.ky * dx + self.sy * dy) / w + self.uy)
    }

    /// The same map as `x_copy = sx * x_ref + tx`: the offsets of the reference origin
    /// (of the separable part).
    pub fn offsets(&self) -> (f64, f64) {
        (self.ux - self.sx * self.cx, self.uy - self.sy * self.cy)
    }

    /// The rotation part in degrees (clockwise on screen), for reports: the mean turn of the
    /// two axes.
    pub fn rotation_degrees(&self) -> f64 {
        (0.5 * (self.ky.atan2(self.sx) - self.kx.atan2(self.sy))).to_degrees()
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
        assert!(t.is_separable());
    }

    #[test]
    fn a_quarter_turn_turns_about_the_centre_and_perspective_shrinks_one_side() {
        let mut t = Transform::identity(200, 100);
        (t.sx, t.sy, t.kx, t.ky) = (0.0, 0.0, -1.0, 1.0); // a quarter turn
        let (x, y) = t.apply(150.0, 50.0); // 50 px right of the centre -> 50 px below it
        assert!((x - 100.0).abs() < 1e-9 && (y - 100.0).abs() < 1e-9, "{x} {y}");
        assert!((t.rotation_degrees() - 90.0).abs() < 1e-9);
        let mut p = Transform::identity(200, 100);
        p.px = 0.1; // the right edge is 10 % further away, so drawn 1/1.1 as large
        let (right, _) = p.apply(200.0, 50.0);
        let (left, _) = p.apply(0.0, 50.0);
        assert!((right - (100.0 + 100.0 / 1.1)).abs() < 1e-9);
        assert!((left - (100.0 - 100.0 / 0.9)).abs() < 1e-9);
        assert!(!p.is_separable());
        // Serialised without the zero warp fields, read back with them.
        let json = serde_json::to_string(&Transform::identity(200, 100)).unwrap();
        assert!(!json.contains("kx") && !json.contains("px"));
        let back: Transform = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Transform::identity(200, 100));
    }
}
