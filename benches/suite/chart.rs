//! The chunk-size chart, written as SVG by hand: a few lines of text per
//! shape, no plotting library.

use crate::report::Stats;
use std::fmt::Write as _;

/// The geometry of the chunk-size chart: its size, margins, and the
/// ranges of its two axes.
pub struct Chart {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    /// The top of the value axis, in MB/s.
    top_value: f64,
    /// The smallest and largest chunk size, as powers of two.
    first: f64,
    last: f64,
}

impl Chart {
    fn for_points(points: &[(usize, Stats)]) -> Chart {
        Chart {
            width: 640.0,
            height: 400.0,
            left: 70.0,
            right: 20.0,
            top: 40.0,
            bottom: 60.0,
            top_value: points.iter().map(|(_, s)| s.max).fold(0.0, f64::max) * 1.1,
            first: (points[0].0 as f64).log2(),
            last: (points[points.len() - 1].0 as f64).log2(),
        }
    }

    /// Where a chunk size goes across (a logarithmic axis).
    fn x(&self, size: usize) -> f64 {
        let span = self.width - self.left - self.right;
        self.left + ((size as f64).log2() - self.first) / (self.last - self.first) * span
    }

    /// Where a throughput goes up.
    fn y(&self, value: f64) -> f64 {
        let span = self.height - self.top - self.bottom;
        self.height - self.bottom - value / self.top_value * span
    }
}

/// An SVG line chart of throughput (median, with min-max bars) against
/// chunk size on a logarithmic axis.
pub fn chunk_size_chart(points: &[(usize, Stats)]) -> String {
    let chart = Chart::for_points(points);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">"#,
        chart.width, chart.height
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">ftpchat relay throughput by chunk size (256 MiB, loopback)</text>"#,
        chart.width / 2.0
    );
    chart_axes(&mut svg, &chart, points);
    chart_data(&mut svg, &chart, points);
    svg.push_str("</svg>\n");
    svg
}

/// The axes, the grid and their labels.
pub fn chart_axes(svg: &mut String, c: &Chart, points: &[(usize, Stats)]) {
    let (left, right, top, bottom) = (c.left, c.right, c.top, c.bottom);
    let (width, height) = (c.width, c.height);
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="black"/>"#,
        height - bottom,
        width - right
    );
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        height - bottom
    );
    for step in 0..=4 {
        let value = c.top_value * step as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#ddd"/><text x="{2}" y="{3}" text-anchor="end">{4:.0}</text>"##,
            c.y(value),
            width - right,
            left - 6.0,
            c.y(value) + 4.0,
            value
        );
    }
    for (size, _) in points {
        let label = if *size >= 1024 * 1024 {
            format!("{} MiB", size / 1024 / 1024)
        } else {
            format!("{} KiB", size / 1024)
        };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
            c.x(*size),
            height - bottom + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">chunk size</text>"#,
        (left + width - right) / 2.0,
        height - 15.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {0})">MB/s (median, bars: min-max of runs)</text>"#,
        (top + height - bottom) / 2.0
    );
}

/// The range bars, then the line through the medians, with their values.
pub fn chart_data(svg: &mut String, c: &Chart, points: &[(usize, Stats)]) {
    for (size, stats) in points {
        let _ = writeln!(
            svg,
            r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#888" stroke-width="2"/>"##,
            c.x(*size),
            c.y(stats.min),
            c.y(stats.max)
        );
    }
    let line: Vec<String> = points
        .iter()
        .map(|(size, stats)| format!("{:.1},{:.1}", c.x(*size), c.y(stats.median)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="2.5"/>"##,
        line.join(" ")
    );
    for (size, stats) in points {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#1f6feb"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}</text>"##,
            c.x(*size),
            c.y(stats.median),
            c.x(*size),
            c.y(stats.median) - 10.0,
            stats.median
        );
    }
}
