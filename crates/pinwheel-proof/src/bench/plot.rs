//! The scaling plot: median wall time against input size, one panel per
//! command (requirements, verify, refresh-index), one line per tool,
//! log-log, drawn as SVG with `plotters` (no system libraries needed).

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One panel: a command measured at several input sizes.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub series: Vec<Series>,
}

/// One tool's medians: (input size, seconds).
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Renders the panels side by side into an SVG string.
pub fn render_svg(panels: &[Panel]) -> anyhow::Result<String> {
    let panels: Vec<&Panel> = panels
        .iter()
        .filter(|p| p.series.iter().any(|s| !s.points.is_empty()))
        .collect();
    anyhow::ensure!(
        !panels.is_empty(),
        "nothing to plot: no command was measured at several sizes"
    );
    let width = 520 * panels.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let areas = root.split_evenly((1, panels.len()));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            draw_panel(panel, area)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let points = panel.series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let x_range = (x_min / 1.5)..(x_max * 1.5);
    let y_range = (y_min / 2.0)..(y_max * 2.0);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc("median wall time (s)")
        .x_label_formatter(&|x| format_number(*x))
        .y_label_formatter(&|y| format_seconds(*y))
        .draw()
        .map_err(plot_err)?;
    // pinwheel's lines are red (then purple); the peers take the others.
    let (mut ours, mut theirs) = (0usize, 0usize);
    for series in &panel.series {
        if series.points.is_empty() {
            continue;
        }
        let color = if series.label.starts_with("pinwheel") {
            ours += 1;
            [COLORS[0], COLORS[4]][(ours - 1) % 2]
        } else {
            theirs += 1;
            [COLORS[1], COLORS[2], COLORS[3], COLORS[5]][(theirs - 1) % 4]
        };
        let mut pts = series.points.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(plot_err)?
            .label(series.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

fn plot_err<E: std::error::Error + Send + Sync + 'static>(err: E) -> anyhow::Error {
    anyhow::Error::new(err).context("drawing the scaling plot")
}

fn format_number(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.0}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.0}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn format_seconds(y: f64) -> String {
    if y >= 1.0 {
        format!("{y:.1} s")
    } else if y >= 0.001 {
        format!("{:.0} ms", y * 1000.0)
    } else {
        format!("{:.2} ms", y * 1000.0)
    }
}

/// Renders and writes the plot atomically.
pub fn write(path: &Path, panels: &[Panel]) -> anyhow::Result<()> {
    let svg = render_svg(panels)?;
    xtask::fresh::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("{}: writing the plot", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lines_and_legend() {
        let panels = vec![Panel {
            title: "requirements".into(),
            x_label: "packages".into(),
            series: vec![
                Series {
                    label: "pinwheel".into(),
                    points: vec![(10.0, 0.004), (500.0, 0.02), (2000.0, 0.05)],
                },
                Series {
                    label: "uv export".into(),
                    points: vec![(10.0, 0.01), (500.0, 0.03), (2000.0, 0.09)],
                },
            ],
        }];
        let svg = render_svg(&panels).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        assert!(svg.contains("uv export") && svg.contains("pinwheel"));
        assert!(svg.contains("<polyline"), "no line drawn");
    }

    #[test]
    fn refuses_empty() {
        let err = render_svg(&[Panel {
            title: "t".into(),
            x_label: "x".into(),
            series: vec![],
        }])
        .unwrap_err();
        assert!(err.to_string().contains("nothing to plot"));
    }
}
