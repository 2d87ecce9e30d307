//! The drawing kit behind the benchmark's charts: the colours every chart shares (abmark is always
//! the same blue, each peer keeps its colour), a legend strip, and a horizontal bar panel with
//! labelled groups. Horizontal bars because attack, clip and subject names are long and must stay
//! legible.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The colour type of the palette, for crates that do not name plotters themselves.
pub use plotters::style::RGBColor;

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

pub const ABMARK: RGBColor = RGBColor(31, 119, 180);
/// abmark's second series in one chart (variant 1, the slowest copy).
pub const ABMARK_LIGHT: RGBColor = RGBColor(140, 190, 228);
pub const GREY: RGBColor = RGBColor(110, 110, 110);
const PEERS: [RGBColor; 6] = [
    RGBColor(230, 120, 20),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];
pub const WIDTH: u32 = 800;
pub const FONT: &str = "sans-serif";

/// The colour of the `i`-th peer of `report.peers`, the same in every chart.
pub fn peer_colour(i: usize) -> RGBColor {
    PEERS[i % PEERS.len()]
}

/// A text style whose SVG `font-size` is `px`: plotters' SVG backend divides the size it is given
/// by 1.24, which would leave every label a fifth smaller than asked.
pub fn font(px: f64) -> TextStyle<'static> {
    (FONT, px * 1.24).into_font().color(&BLACK)
}

pub const TITLE_PX: f64 = 17.0;
pub const LABEL_PX: f64 = 13.0;

/// Coloured squares with names in a row, then the dashed reference line's name if there is one.
/// Above the plot, so a legend never hides a bar or a line.
pub fn legend(
    area: &Area,
    entries: &[(String, RGBColor)],
    mark: Option<&str>,
) -> anyhow::Result<()> {
    let mut x = 12;
    let style = font(LABEL_PX).pos(Pos::new(HPos::Left, VPos::Center));
    for (name, colour) in entries {
        area.draw(&Rectangle::new([(x, 6), (x + 12, 18)], colour.filled()))?;
        area.draw(&Text::new(name.clone(), (x + 18, 12), style.clone()))?;
        x += 18 + text_width(name) + 24;
    }
    if let Some(name) = mark {
        let line = [(x, 12), (x + 22, 12)];
        area.draw(&plotters::element::DashedPathElement::new(line, 6, 4, GREY.stroke_width(2)))?;
        area.draw(&Text::new(name.to_string(), (x + 28, 12), style))?;
    }
    Ok(())
}

/// The SVG backend cannot measure text; 0.55 em a character is close for sans-serif labels.
fn text_width(text: &str) -> i32 {
    (0.55 * LABEL_PX * text.chars().count() as f64) as i32
}

/// Pixels the value-axis labels of `panels` need, so stacked panels share one left edge.
pub fn label_width(panels: &[Panel]) -> u32 {
    let labels = panels.iter().flat_map(|p| &p.groups).map(|g| g.label.as_str());
    let widest = labels.map(text_width).max().unwrap_or(0);
    (widest as u32 + 20).clamp(50, 320)
}

/// A linear f64 axis with ticks exactly where asked (the measured sweep points, quarters of 100 %,
/// the centre of each bar group). plotters' own `with_key_points` loses the f64 tick formatter,
/// which leaves such an axis without a mesh.
#[derive(Clone)]
pub struct Ticks {
    range: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticks {
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Ticks { range: range.into(), ticks }
    }
}

impl Ranged for Ticks {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.range.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold ticks only: light ones would be plotters' guesses between ours.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.range()
    }
}

/// How a panel's value axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    /// 0..max with ticks at quarters (percentages, scores).
    Fixed(f64),
    /// 0..a round number above the largest value.
    Auto,
    /// Decades, for values that differ by orders of magnitude.
    Log,
}

impl Axis {
    /// `Log` when the positive values span more than `ratio`, else `Auto`.
    pub fn for_spread(values: impl Iterator<Item = f64>, ratio: f64) -> Axis {
        let v: Vec<f64> = values.filter(|v| v.is_finite() && *v > 0.0).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        if hi / lo > ratio {
            Axis::Log
        } else {
            Axis::Auto
        }
    }
}

pub struct Bar {
    pub value: f64,
    pub colour: RGBColor,
}

/// Bars that share a label (an attack, a clip), drawn top to bottom in order.
pub struct Group {
    pub label: String,
    pub bars: Vec<Bar>,
}

pub struct Panel<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub groups: Vec<Group>,
    pub legend: Vec<(String, RGBColor)>,
    pub axis: Axis,
    /// A reference value drawn as a dashed line with its name (chance, real time).
    pub mark: Option<(f64, &'a str)>,
    pub decimals: usize,
    pub unit: &'a str,
}

impl Panel<'_> {
    /// Pixels this panel needs: title, legend, axis, and room for each bar.
    pub fn height(&self) -> u32 {
        let bars: usize = self.groups.iter().map(|g| g.bars.len().max(1)).sum();
        130 + 18 * bars as u32 + 10 * self.groups.len() as u32
    }

    fn scale(&self) -> Scale {
        // The mark counts as a value so its line always lies on the axis.
        let bars = self.groups.iter().flat_map(|g| &g.bars).map(|b| b.value);
        let values = || bars.clone().chain(self.mark.map(|m| m.0));
        let max = values().filter(|v| v.is_finite()).fold(0.0, f64::max);
        // Nothing positive to show: a unit axis, rather than one that maps values to infinity.
        let max = if max > 0.0 { max } else { 1.0 };
        match self.axis {
            Axis::Fixed(top) => {
                let ticks = (0..=4).map(|i| top * f64::from(i) / 4.0).collect();
                Scale { map: |v| v, start: 0.0, end: top * 1.03, ticks }
            }
            Axis::Auto => {
                let step = nice_step(max / 4.0);
                let ticks: Vec<f64> =
                    (0..).map(|i| f64::from(i) * step).take_while(|t| *t <= max + step).collect();
                let end = ticks.last().copied().unwrap_or(1.0).max(max * 1.03);
                Scale { map: |v| v, start: 0.0, end, ticks }
            }
            Axis::Log => {
                let positive = values().filter(|v| v.is_finite() && *v > 0.0);
                let lo = positive.fold(f64::INFINITY, f64::min).log10().floor();
                let lo = if lo.is_finite() { lo } else { 0.0 };
                let hi = max.log10().ceil().max(lo + 1.0);
                let ticks = (lo as i32..=hi as i32).map(f64::from).collect();
                Scale { map: f64::log10, start: lo, end: hi + 0.05, ticks }
            }
        }
    }

    fn tick_label(&self, t: f64) -> String {
        match self.axis {
            Axis::Log => {
                let v = 10f64.powf(t);
                format!("{v:.0$}", (-t).max(0.0) as usize)
            }
            _ => format!("{t}"),
        }
    }
}

/// A panel's value axis: how a value maps onto it, its extent and its ticks (all mapped).
struct Scale {
    map: fn(f64) -> f64,
    start: f64,
    end: f64,
    ticks: Vec<f64>,
}

/// A step of 1, 2 or 5 times a power of ten at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let decade = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * decade).find(|s| *s >= raw).unwrap_or(decade)
}

/// Draws `panel` filling `area`: the first group at the top.
pub fn draw_panel(area: &Area, panel: &Panel, label_width: u32) -> anyhow::Result<()> {
    // Room between stacked panels, so a title never touches the axis above it.
    let (_, area) = area.split_vertically(14);
    let area = area.titled(panel.title, font(TITLE_PX))?;
    let has_key = !panel.legend.is_empty() || panel.mark.is_some();
    let (key, plot) = area.split_vertically(if has_key { 26 } else { 0 });
    legend(&key, &panel.legend, panel.mark.map(|m| m.1))?;
    let scale = panel.scale();
    let n = panel.groups.len();
    let mut chart = ChartBuilder::on(&plot)
        .margin_right(24)
        .margin_top(6)
        .x_label_area_size(44)
        .y_label_area_size(label_width)
        .build_cartesian_2d(
            Ticks::new(scale.start..scale.end, scale.ticks.clone()),
            Ticks::new(-0.5..n as f64 - 0.5, (0..n).map(|i| i as f64).collect()),
        )?;
    // Groups are laid out bottom-up on the axis, so group i sits at n - 1 - i.
    let label = |y: &f64| {
        let i = n as f64 - 1.0 - y.round();
        panel.groups.get(i as usize).map(|g| g.label.clone()).unwrap_or_default()
    };
    let tick = |x: &f64| panel.tick_label(*x);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(panel.x_label)
        .x_label_formatter(&tick)
        .y_label_formatter(&label)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(LABEL_PX))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(TRANSPARENT)
        .draw()?;
    // Under the bars, so values written across the line stay legible.
    if let Some((value, _)) = panel.mark {
        let x = (scale.map)(value);
        let line = [(x, -0.5), (x, n as f64 - 0.5)];
        chart.draw_series(DashedLineSeries::new(line, 6, 4, GREY.stroke_width(2)))?;
    }
    for (gi, group) in panel.groups.iter().enumerate() {
        let centre = (n - 1 - gi) as f64;
        let band = 0.8 / group.bars.len().max(1) as f64;
        for (j, bar) in group.bars.iter().enumerate() {
            let top = centre + 0.4 - j as f64 * band;
            let bottom = top - band * 0.88;
            draw_bar(&mut chart, panel, &scale, bar, (bottom, top))?;
        }
    }
    Ok(())
}

type BarChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticks, Ticks>>;

/// One bar from the axis start to its value, with the value written after its end. Values the
/// axis cannot show (missing, or not positive on a log axis) get a `-` and no bar.
fn draw_bar(
    chart: &mut BarChart,
    panel: &Panel,
    scale: &Scale,
    bar: &Bar,
    (bottom, top): (f64, f64),
) -> anyhow::Result<()> {
    // Clamped to the axis: plotters' pixel arithmetic overflows far outside it.
    let (x0, x1) = (scale.start, scale.end);
    let end = Some((scale.map)(bar.value)).filter(|x| x.is_finite() && *x >= x0).map(|x| x.min(x1));
    let middle = (bottom + top) / 2.0;
    if let Some(end) = end {
        chart.draw_series([Rectangle::new([(x0, bottom), (end, top)], bar.colour.filled())])?;
    }
    let text = match end {
        Some(_) => format!("{}{}", value_text(bar.value, panel.decimals), panel.unit),
        None => "-".into(),
    };
    // Long bars carry their value inside the end, where no reference line or neighbour crosses
    // it; short ones (and missing values) write it after the end.
    let inside = end.filter(|e| (e - x0) / (x1 - x0) > 0.15);
    let (anchor, offset, colour) = match inside {
        Some(_) => (HPos::Right, -5, on(bar.colour)),
        None => (HPos::Left, 5, BLACK),
    };
    let style = font(LABEL_PX - 1.0).color(&colour).pos(Pos::new(anchor, VPos::Center));
    let at = (end.unwrap_or(x0), middle);
    chart.plotting_area().draw(&(EmptyElement::at(at) + Text::new(text, (offset, 0), style)))?;
    Ok(())
}

/// `value` with `decimals` places, or more below 10 so small values keep two significant digits
/// (a peer at 0.5 frames/s must not read `0`).
fn value_text(value: f64, decimals: usize) -> String {
    let magnitude = value.abs();
    let decimals = match magnitude {
        m if m > 0.0 && m < 1.0 => decimals.max((1.0 - m.log10().floor()) as usize),
        m if m > 0.0 && m < 10.0 => decimals.max(1),
        _ => decimals,
    };
    format!("{value:.decimals$}")
}

/// Black or white, whichever reads better on `fill`.
fn on(fill: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = fill;
    let luma = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    if luma > 150.0 {
        BLACK
    } else {
        WHITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_keep_two_digits() {
        assert_eq!(value_text(0.5, 0), "0.50");
        assert_eq!(value_text(0.043, 0), "0.043");
        assert_eq!(value_text(4.2, 0), "4.2");
        assert_eq!(value_text(95.4, 0), "95");
        assert_eq!(value_text(0.0, 1), "0.0");
    }
}
