//! Hand-written SVG line charts: a grid of panels sharing an x axis of concurrency levels
//! (log scale), one line per series, and one legend.

use std::fmt::Write as _;

/// Panel size and margins, in SVG user units.
const PANEL_W: f64 = 440.0;
const PANEL_H: f64 = 280.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;
const LEGEND_ROW: f64 = 20.0;

/// One line.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Stroke colour.
    pub color: &'static str,
    /// Dashed instead of solid.
    pub dashed: bool,
    /// (concurrency, value) points.
    pub points: Vec<(usize, f64)>,
}

/// One panel of the grid.
pub struct Panel {
    /// Title above it.
    pub title: String,
    /// Its lines.
    pub series: Vec<Series>,
}

/// A figure: panels in `columns` columns.
pub struct Chart<'a> {
    /// Title of the whole figure.
    pub title: &'a str,
    /// Label of every y axis.
    pub y_label: &'a str,
    /// Logarithmic y axis (latency) instead of linear from zero (throughput).
    pub log_y: bool,
    /// The concurrency levels on the x axis.
    pub concurrency: &'a [usize],
    /// Panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Legend entries: label, colour, dashed.
    pub legend: Vec<(String, &'static str, bool)>,
}

impl Chart<'_> {
    /// The SVG document.
    pub fn render(&self) -> String {
        let columns = self.columns.max(1);
        let rows = self.panels.len().div_ceil(columns);
        let legend_columns = 3;
        let legend_rows = self.legend.len().div_ceil(legend_columns);
        let width = PANEL_W * columns as f64;
        let height = 40.0 + PANEL_H * rows as f64 + 20.0 + LEGEND_ROW * legend_rows as f64;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(
            svg,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
            width / 2.0,
            escape(self.title)
        );
        for (i, panel) in self.panels.iter().enumerate() {
            let x0 = PANEL_W * (i % columns) as f64;
            let y0 = 40.0 + PANEL_H * (i / columns) as f64;
            self.panel(&mut svg, panel, x0, y0);
        }
        let legend_y = 40.0 + PANEL_H * rows as f64 + 10.0;
        let column_w = width / legend_columns as f64;
        for (i, (label, color, dashed)) in self.legend.iter().enumerate() {
            let x = 20.0 + column_w * (i % legend_columns) as f64;
            let y = legend_y + LEGEND_ROW * (i / legend_columns) as f64;
            let dash = if *dashed {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let _ = write!(
                svg,
                r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{}" y="{}">{}</text>"#,
                x + 28.0,
                x + 34.0,
                y + 4.0,
                escape(label)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }

    fn panel(&self, svg: &mut String, panel: &Panel, x0: f64, y0: f64) {
        let plot_x = x0 + LEFT;
        let plot_y = y0 + TOP;
        let plot_w = PANEL_W - LEFT - RIGHT;
        let plot_h = PANEL_H - TOP - BOTTOM;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
            plot_x + plot_w / 2.0,
            y0 + 22.0,
            escape(&panel.title)
        );
        let values: Vec<f64> = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite() && (!self.log_y || *v > 0.0))
            .collect();
        let scale = YScale::new(&values, self.log_y);
        let x_of = |c: usize| plot_x + plot_w * x_fraction(c, self.concurrency);
        let y_of = |v: f64| plot_y + plot_h * (1.0 - scale.fraction(v));
        // Grid and y ticks.
        for tick in scale.ticks() {
            let y = y_of(tick);
            let _ = write!(
                svg,
                r##"<line x1="{plot_x}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                plot_x + plot_w,
                plot_x - 6.0,
                y + 4.0,
                tick_label(tick)
            );
        }
        // X ticks.
        for &c in self.concurrency {
            let x = x_of(c);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{plot_y}" x2="{x:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{c}</text>"##,
                plot_y + plot_h,
                plot_y + plot_h + 16.0
            );
        }
        // Axes and labels.
        let _ = write!(
            svg,
            r#"<rect x="{plot_x}" y="{plot_y}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle">connections</text><text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            plot_x + plot_w / 2.0,
            plot_y + plot_h + 34.0,
            x0 + 16.0,
            plot_y + plot_h / 2.0,
            escape(self.y_label)
        );
        for series in &panel.series {
            let points: Vec<String> = series
                .points
                .iter()
                .filter(|p| p.1.is_finite() && (!self.log_y || p.1 > 0.0))
                .map(|&(c, v)| format!("{:.1},{:.1}", x_of(c), y_of(v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let dash = if series.dashed {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let _ = write!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{}</title></polyline>"#,
                points.join(" "),
                series.color,
                escape(&series.label)
            );
            for point in &points {
                let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    svg,
                    r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{}"/>"#,
                    series.color
                );
            }
        }
    }
}

/// Where concurrency `c` sits on the x axis, 0..1, log-scaled over the run's levels.
fn x_fraction(c: usize, levels: &[usize]) -> f64 {
    let lo = levels.iter().copied().min().unwrap_or(1).max(1) as f64;
    let hi = levels.iter().copied().max().unwrap_or(1).max(1) as f64;
    if hi <= lo {
        return 0.5;
    }
    let pad = 0.04;
    pad + (1.0 - 2.0 * pad) * ((c.max(1) as f64).ln() - lo.ln()) / (hi.ln() - lo.ln())
}

/// The y axis: linear from zero, or logarithmic over whole decades.
struct YScale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl YScale {
    fn new(values: &[f64], log: bool) -> Self {
        let max = values.iter().copied().fold(0.0_f64, f64::max);
        if log {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let (min, max) = if min.is_finite() {
                (min, max)
            } else {
                (0.1, 10.0)
            };
            YScale {
                lo: 10f64.powf(min.log10().floor()),
                hi: 10f64.powf(max.log10().ceil().max(min.log10().floor() + 1.0)),
                log: true,
            }
        } else {
            let step = nice_step(if max > 0.0 { max } else { 1.0 } / 5.0);
            YScale {
                lo: 0.0,
                hi: (max / step).ceil().max(1.0) * step,
                log: false,
            }
        }
    }

    fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut ticks = Vec::new();
            let mut t = self.lo;
            while t <= self.hi * 1.0001 {
                ticks.push(t);
                t *= 10.0;
            }
            ticks
        } else {
            let step = nice_step(self.hi / 5.0);
            (0..=((self.hi / step).round() as usize))
                .map(|i| i as f64 * step)
                .collect()
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// `12k`, `1.5`, `0.01`.
fn tick_label(v: f64) -> String {
    if v >= 1_000.0 {
        format!("{}k", v / 1_000.0)
    } else if v >= 1.0 {
        format!("{v}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

/// Text safe inside SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
