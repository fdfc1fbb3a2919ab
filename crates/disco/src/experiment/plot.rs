//! The figure drawn in the style of the paper's: per workload, stacked
//! bars of execution time normalised to bare (user, kernel, monitor,
//! idle), the total above each bar, the paper's figure beside ours as an
//! outlined bar. Drawn as SVG with `plotters` (no fonts needed) and
//! rendered to PNG with `resvg` (system fonts: Debian's `fonts-dejavu-core`).
//! Table 2 is drawn as horizontal bars, one per service, of the VM's
//! slowdown split into the paper's five columns ([`draw_services`]).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;

use super::figure::{Breakdown, Figure};
use super::services::ServiceTable;
use super::spec::{Experiment, PaperService, ServiceColumns};

const USER: RGBColor = RGBColor(0x9e, 0xc9, 0xe2);
const KERNEL: RGBColor = RGBColor(0x3b, 0x6f, 0xa8);
const MONITOR: RGBColor = RGBColor(0xd6, 0x45, 0x3d);
const IDLE: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const OTHER: RGBColor = RGBColor(0x66, 0x66, 0x66);
const PAPER: RGBColor = RGBColor(0xfb, 0xf3, 0xd5);

/// A part of a stacked bar: its name, colour and value.
type Part = (&'static str, RGBColor, fn(&Breakdown) -> f64);

/// One slot on the x axis.
struct Slot {
    x: f64,
    label: String,
    /// Ours (stacked), or the paper's total (outlined).
    bar: Result<Breakdown, f64>,
}

/// Writes the figure as SVG to `svg` and as PNG to `png`.
pub fn draw(e: &Experiment, f: &Figure, subtitle: &str, svg: &Path, png: &Path) -> Result<()> {
    let text = svg_text(e, f, subtitle)?;
    std::fs::write(svg, &text).with_context(|| format!("cannot write {}", svg.display()))?;
    render_png(&text, png)
}

/// The SVG document of the figure.
pub fn svg_text(e: &Experiment, f: &Figure, subtitle: &str) -> Result<String> {
    let mut slots = Vec::new();
    let mut groups = Vec::new();
    let mut x = 0.6;
    for w in &f.workloads {
        let start = x;
        for b in &w.bars {
            let label = if b.mode != "vm" {
                b.mode.clone()
            } else if b.cost_scale == 1.0 {
                "VM".to_string()
            } else {
                format!("x{}", b.cost_scale)
            };
            slots.push(Slot {
                x,
                label,
                bar: Ok(b.normalised.clone()),
            });
            x += 1.0;
        }
        if let Some(p) = w.paper_vm {
            slots.push(Slot {
                x,
                label: "paper".into(),
                bar: Err(p),
            });
            x += 1.0;
        }
        if x == start {
            x += 1.0; // nothing to draw: leave room for the name
        }
        groups.push((w.workload.clone(), (start + x - 1.0) / 2.0));
        x += 0.8;
    }
    // The last bar's right edge (the group gap and the bar's own slot
    // taken back) plus the same margin as on the left.
    let x_max = (x - 1.2).max(1.0);
    let y_top = slots
        .iter()
        .map(|s| match &s.bar {
            Ok(b) => b.total.max(b.user + b.kernel + b.monitor + b.idle),
            Err(p) => *p,
        })
        .fold(100.0_f64, f64::max)
        * 1.3;

    let mut out = String::new();
    {
        let width = (160.0 + 62.0 * x_max) as u32;
        let root = SVGBackend::with_string(&mut out, (width.max(520), 480)).into_drawing_area();
        let caption = format!("{} — {}", e.title, subtitle);
        let mut chart = bar_chart(&root, &caption, x_max, y_top, "Normalised execution time")?;

        let parts: [Part; 5] = [
            ("user", USER, |b| b.user),
            ("kernel", KERNEL, |b| b.kernel),
            ("monitor", MONITOR, |b| b.monitor),
            ("idle", IDLE, |b| b.idle),
            ("other (unattributed)", OTHER, |b| b.other.max(0.0)),
        ];
        let mut legend: Vec<(String, RGBColor)> = Vec::new();
        let any_other = slots
            .iter()
            .any(|s| matches!(&s.bar, Ok(b) if b.other > 0.005 * b.total.max(1.0)));
        for (i, (name, colour, part)) in parts.iter().enumerate() {
            if i == 4 && !any_other {
                continue;
            }
            let rects: Vec<Rectangle<(f64, f64)>> = slots
                .iter()
                .filter_map(|s| {
                    let b = s.bar.as_ref().ok()?;
                    let below: f64 = parts[..i].iter().map(|(_, _, p)| p(b).max(0.0)).sum();
                    let h = part(b).max(0.0);
                    Some(Rectangle::new(
                        [(s.x - 0.4, below), (s.x + 0.4, below + h)],
                        colour.filled(),
                    ))
                })
                .collect();
            chart.draw_series(rects).map_err(plot_err)?;
            legend.push((name.to_string(), *colour));
        }
        // Outlines, and the paper's bars (outlined, pale).
        chart
            .draw_series(slots.iter().filter_map(|s| {
                let p = *s.bar.as_ref().err()?;
                Some(Rectangle::new(
                    [(s.x - 0.4, 0.0), (s.x + 0.4, p)],
                    PAPER.filled(),
                ))
            }))
            .map_err(plot_err)?;
        if slots.iter().any(|s| s.bar.is_err()) {
            legend.push(("paper (total only)".into(), PAPER));
        }
        let outlines: Vec<Rectangle<(f64, f64)>> = slots
            .iter()
            .map(|s| {
                let top = match &s.bar {
                    Ok(b) => b.user + b.kernel + b.monitor + b.idle + b.other.max(0.0),
                    Err(p) => *p,
                };
                Rectangle::new([(s.x - 0.4, 0.0), (s.x + 0.4, top)], BLACK.stroke_width(1))
            })
            .collect();
        chart.draw_series(outlines).map_err(plot_err)?;
        // The legend: one row along the top of the plotting area.
        let at = chart.backend_coord(&(0.0, y_top));
        draw_legend(&root, at, legend.iter().map(|(n, c)| (n.as_str(), *c)))?;

        // Totals above the bars, labels under them, workloads under those.
        let small = ("sans-serif", 11).into_font().color(&BLACK);
        let centred = |s: &TextStyle<'static>| {
            s.clone().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ))
        };
        let top_small = centred(&small);
        let big = centred(&("sans-serif", 14).into_font().color(&BLACK));
        for s in &slots {
            let total = match &s.bar {
                Ok(b) => b.total,
                Err(p) => *p,
            };
            let top = match &s.bar {
                Ok(b) => (b.user + b.kernel + b.monitor + b.idle + b.other.max(0.0)).max(b.total),
                Err(p) => *p,
            };
            let (px, py) = chart.backend_coord(&(s.x, top));
            root.draw(&Text::new(
                format!("{total:.0}"),
                (px, py - 15),
                top_small.clone(),
            ))
            .map_err(plot_err)?;
            let (px, py) = chart.backend_coord(&(s.x, 0.0));
            root.draw(&Text::new(s.label.clone(), (px, py + 6), top_small.clone()))
                .map_err(plot_err)?;
        }
        for (name, gx) in &groups {
            let (px, py) = chart.backend_coord(&(*gx, 0.0));
            root.draw(&Text::new(name.clone(), (px, py + 26), big.clone()))
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}

/// The chart of a bar plot on `root` (filled white): `caption` on top, x
/// from 0 to `x_max` without labels (the bars get their own), y from 0 to
/// `y_top` described by `y_desc`.
fn bar_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
    x_max: f64,
    y_top: f64,
    y_desc: &str,
) -> Result<
    ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
> {
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 17))
        .margin(14)
        .x_label_area_size(58)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_top)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .light_line_style(WHITE)
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// A one-row legend of outlined colour boxes and names on `root`, from
/// the top left corner of the plotting area `(x, y)`.
fn draw_legend<'n>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (x, y): (i32, i32),
    legend: impl IntoIterator<Item = (&'n str, RGBColor)>,
) -> Result<()> {
    let font = ("sans-serif", 12).into_font().color(&BLACK);
    let mut lx = x + 12;
    for (name, colour) in legend {
        for style in [colour.filled(), BLACK.stroke_width(1)] {
            root.draw(&Rectangle::new([(lx, y + 8), (lx + 12, y + 20)], style))
                .map_err(plot_err)?;
        }
        root.draw(&Text::new(name.to_string(), (lx + 17, y + 8), font.clone()))
            .map_err(plot_err)?;
        lx += 30 + 8 * name.len() as i32;
    }
    Ok(())
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the plot: {e:?}")
}

/// Renders `svg` to a PNG file at `png`, with the system's fonts.
pub fn render_png(svg: &str, png: &Path) -> Result<()> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    {
        let db = opt.fontdb_mut();
        db.load_system_fonts();
        if db
            .faces()
            .any(|f| f.families.iter().any(|(n, _)| n == "DejaVu Sans"))
        {
            db.set_sans_serif_family("DejaVu Sans");
        }
    }
    let tree = usvg::Tree::from_str(svg, &opt).context("cannot parse the SVG plot")?;
    let scale = 2.0;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .context("empty plot")?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).context("cannot make the image")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .save_png(png)
        .map_err(|e| anyhow!("cannot write {}: {e}", png.display()))
}

/// The columns of Table 2, in the paper's order.
const COLUMN_COLOURS: [RGBColor; 5] = [
    KERNEL,
    RGBColor(0xe8, 0x9c, 0x3a),
    RGBColor(0x8a, 0x6b, 0xbf),
    MONITOR,
    RGBColor(0x5a, 0xa0, 0x5a),
];

/// One horizontal bar of the service plot.
enum ServiceSlot {
    /// A group heading.
    Heading(String),
    /// A bar: label, slowdown and its split (`None`: not measured).
    Bar(String, Option<(f64, ServiceColumns)>),
}

/// Writes the Table 2 plot as SVG to `svg` and as PNG to `png`.
pub fn draw_services(
    e: &Experiment,
    t: &ServiceTable,
    subtitle: &str,
    svg: &Path,
    png: &Path,
) -> Result<()> {
    let text = services_svg_text(e, t, subtitle)?;
    std::fs::write(svg, &text).with_context(|| format!("cannot write {}", svg.display()))?;
    render_png(&text, png)
}

/// The SVG document of the Table 2 plot: per service, a horizontal bar of
/// the VM's slowdown split into the paper's five columns (ours, then the
/// paper's IRIX 5.3 rows), a line at 1 (bare).
pub fn services_svg_text(e: &Experiment, t: &ServiceTable, subtitle: &str) -> Result<String> {
    let mut slots = vec![ServiceSlot::Heading(format!(
        "ours: {} (simulated)",
        t.workload
    ))];
    for r in &t.rows {
        slots.push(ServiceSlot::Bar(r.name.clone(), r.slowdown.zip(r.columns)));
    }
    let paper: Vec<&PaperService> = e
        .paper_services
        .iter()
        .filter(|p| p.release == "IRIX 5.3")
        .collect();
    if !paper.is_empty() {
        slots.push(ServiceSlot::Heading("paper: IRIX 5.3 on SimOS".into()));
        for p in paper {
            slots.push(ServiceSlot::Bar(
                p.name.clone(),
                Some((p.slowdown, p.columns)),
            ));
        }
    }
    let n = slots.len() as f64;
    let x_max = slots
        .iter()
        .filter_map(|s| match s {
            ServiceSlot::Bar(_, Some((sd, c))) => Some(sd.max(c.sum())),
            _ => None,
        })
        .fold(2.0_f64, f64::max)
        * 1.12;
    let mut out = String::new();
    {
        let height = (150.0 + 24.0 * n) as u32;
        let root = SVGBackend::with_string(&mut out, (860, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let caption = format!("{} — {}", e.title, subtitle);
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 17))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(130)
            .build_cartesian_2d(0.0..x_max, 0.0..n)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(8)
            .light_line_style(WHITE)
            .x_desc("Relative execution time on the monitor (bare latency = 1)")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(plot_err)?;
        let y_of = |i: usize| n - i as f64 - 0.5;
        for (k, colour) in COLUMN_COLOURS.iter().enumerate() {
            let rects: Vec<Rectangle<(f64, f64)>> = slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let ServiceSlot::Bar(_, Some((_, c))) = s else {
                        return None;
                    };
                    let parts = c.parts();
                    let left: f64 = parts[..k].iter().map(|(_, v)| v.max(0.0)).sum();
                    let w = parts[k].1.max(0.0);
                    let y = y_of(i);
                    Some(Rectangle::new(
                        [(left, y - 0.36), (left + w, y + 0.36)],
                        colour.filled(),
                    ))
                })
                .collect();
            chart.draw_series(rects).map_err(plot_err)?;
        }
        let outlines: Vec<Rectangle<(f64, f64)>> = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let ServiceSlot::Bar(_, Some((_, c))) = s else {
                    return None;
                };
                let y = y_of(i);
                Some(Rectangle::new(
                    [(0.0, y - 0.36), (c.sum(), y + 0.36)],
                    BLACK.stroke_width(1),
                ))
            })
            .collect();
        chart.draw_series(outlines).map_err(plot_err)?;
        // Bare = 1.
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(1.0, 0.0), (1.0, n)],
                BLACK.stroke_width(1),
            )))
            .map_err(plot_err)?;
        let label_style = ("sans-serif", 12).into_font().color(&BLACK).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ),
        );
        let value_style = ("sans-serif", 11).into_font().color(&BLACK).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ),
        );
        let heading_style = ("sans-serif", 13)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ));
        for (i, s) in slots.iter().enumerate() {
            let y = y_of(i);
            match s {
                ServiceSlot::Heading(h) => {
                    let (px, py) = chart.backend_coord(&(0.0, y));
                    root.draw(&Text::new(h.clone(), (px - 120, py), heading_style.clone()))
                        .map_err(plot_err)?;
                }
                ServiceSlot::Bar(name, v) => {
                    let (px, py) = chart.backend_coord(&(0.0, y));
                    root.draw(&Text::new(name.clone(), (px - 6, py), label_style.clone()))
                        .map_err(plot_err)?;
                    let (end, text) = match v {
                        Some((sd, c)) => (c.sum().max(0.0), format!("{sd:.2}")),
                        None => (0.0, "not in the VM run".to_string()),
                    };
                    let (px, py) = chart.backend_coord(&(end, y));
                    root.draw(&Text::new(text, (px + 5, py), value_style.clone()))
                        .map_err(plot_err)?;
                }
            }
        }
        // The legend: one row under the caption, at the right.
        let (mut lx, ly) = chart.backend_coord(&(0.0, n));
        lx += 80;
        let legend_font = ("sans-serif", 12).into_font().color(&BLACK);
        let names = ServiceColumns::default().parts();
        let width: i32 = names.iter().map(|(n, _)| 28 + 7 * n.len() as i32).sum();
        root.draw(&Rectangle::new(
            [(lx - 4, ly + 1), (lx + width, ly + 19)],
            WHITE.filled(),
        ))
        .map_err(plot_err)?;
        for ((name, _), colour) in ServiceColumns::default().parts().iter().zip(COLUMN_COLOURS) {
            root.draw(&Rectangle::new(
                [(lx, ly + 4), (lx + 12, ly + 16)],
                colour.filled(),
            ))
            .map_err(plot_err)?;
            root.draw(&Text::new(
                name.to_string(),
                (lx + 17, ly + 4),
                legend_font.clone(),
            ))
            .map_err(plot_err)?;
            lx += 28 + 7 * name.len() as i32;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}

/// One bar of a stacked-bar chart: its parts bottom to top (ours), or a
/// total (the paper's, drawn pale), and the lines of text under it.
#[derive(Debug)]
pub struct Stacked {
    /// Its centre on the x axis.
    pub x: f64,
    /// Text lines under it.
    pub labels: Vec<String>,
    /// Parts bottom to top, or the paper's total.
    pub parts: Result<Vec<f64>, f64>,
}

impl Stacked {
    fn top(&self) -> f64 {
        match &self.parts {
            Ok(p) => p.iter().sum(),
            Err(t) => *t,
        }
    }
}

/// A chart of stacked bars: `series` names and colours the parts, `groups`
/// names a group of bars centred at an x; the paper's bars are pale and
/// named `paper_name` in the legend. Each bar's total is written above it.
#[derive(Debug)]
pub struct StackedChart<'a> {
    /// Caption.
    pub caption: String,
    /// The y axis.
    pub y_desc: &'a str,
    /// The parts' names and colours, bottom to top.
    pub series: &'a [(&'a str, RGBColor)],
    /// The bars.
    pub bars: Vec<Stacked>,
    /// Group names and their centres.
    pub groups: Vec<(String, f64)>,
    /// The legend's name for the paper's bars.
    pub paper_name: &'a str,
}

impl StackedChart<'_> {
    /// The SVG document.
    pub fn svg(&self) -> Result<String> {
        let x_max = self.bars.iter().map(|b| b.x).fold(0.0, f64::max) + 1.0;
        let y_top = self.bars.iter().map(Stacked::top).fold(10.0_f64, f64::max) * 1.25;
        let mut out = String::new();
        {
            let width = (160.0 + 56.0 * x_max) as u32;
            let root = SVGBackend::with_string(&mut out, (width.max(560), 480)).into_drawing_area();
            let mut chart = bar_chart(&root, &self.caption, x_max, y_top, self.y_desc)?;
            for (i, (_, colour)) in self.series.iter().enumerate() {
                let rects: Vec<Rectangle<(f64, f64)>> = self
                    .bars
                    .iter()
                    .filter_map(|b| {
                        let p = b.parts.as_ref().ok()?;
                        let below: f64 = p[..i.min(p.len())].iter().sum();
                        let h = p.get(i).copied().unwrap_or(0.0);
                        Some(Rectangle::new(
                            [(b.x - 0.4, below), (b.x + 0.4, below + h)],
                            colour.filled(),
                        ))
                    })
                    .collect();
                chart.draw_series(rects).map_err(plot_err)?;
            }
            chart
                .draw_series(self.bars.iter().filter_map(|b| {
                    let t = *b.parts.as_ref().err()?;
                    Some(Rectangle::new(
                        [(b.x - 0.4, 0.0), (b.x + 0.4, t)],
                        PAPER.filled(),
                    ))
                }))
                .map_err(plot_err)?;
            chart
                .draw_series(self.bars.iter().map(|b| {
                    Rectangle::new(
                        [(b.x - 0.4, 0.0), (b.x + 0.4, b.top())],
                        BLACK.stroke_width(1),
                    )
                }))
                .map_err(plot_err)?;
            let legend = self
                .series
                .iter()
                .copied()
                .chain(std::iter::once((self.paper_name, PAPER)));
            draw_legend(&root, chart.backend_coord(&(0.0, y_top)), legend)?;
            let centred = |size: u32| {
                ("sans-serif", size).into_font().color(&BLACK).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Top,
                    ),
                )
            };
            for b in &self.bars {
                let (px, py) = chart.backend_coord(&(b.x, b.top()));
                root.draw(&Text::new(
                    format!("{:.0}", b.top()),
                    (px, py - 15),
                    centred(11),
                ))
                .map_err(plot_err)?;
                let (px, py) = chart.backend_coord(&(b.x, 0.0));
                for (k, line) in b.labels.iter().enumerate() {
                    root.draw(&Text::new(
                        line.clone(),
                        (px, py + 6 + 13 * k as i32),
                        centred(11),
                    ))
                    .map_err(plot_err)?;
                }
            }
            let lines = self.bars.iter().map(|b| b.labels.len()).max().unwrap_or(1) as i32;
            for (name, gx) in &self.groups {
                let (px, py) = chart.backend_coord(&(*gx, 0.0));
                root.draw(&Text::new(
                    name.clone(),
                    (px, py + 12 + 13 * lines),
                    centred(14),
                ))
                .map_err(plot_err)?;
            }
            root.present().map_err(plot_err)?;
        }
        Ok(out)
    }

    /// Writes the chart as SVG to `svg` and as PNG to `png`.
    pub fn draw(&self, svg: &Path, png: &Path) -> Result<()> {
        let text = self.svg()?;
        std::fs::write(svg, &text).with_context(|| format!("cannot write {}", svg.display()))?;
        render_png(&text, png)
    }
}

/// Figure 7: per configuration a V and an M bar stacked by category (MiB),
/// and the paper's eight-VM totals (MB) as pale outlined bars.
pub fn draw_footprints(
    e: &Experiment,
    f: &super::memory::Footprints,
    subtitle: &str,
    svg: &Path,
    png: &Path,
) -> Result<()> {
    footprints_chart(e, f, subtitle).draw(svg, png)
}

/// The SVG document of Figure 7.
pub fn footprints_svg_text(
    e: &Experiment,
    f: &super::memory::Footprints,
    subtitle: &str,
) -> Result<String> {
    footprints_chart(e, f, subtitle).svg()
}

const FOOTPRINT_SERIES: [(&str, RGBColor); 4] = [
    ("kernel image", KERNEL),
    ("buffer cache", USER),
    ("other data", IDLE),
    ("monitor", MONITOR),
];

fn footprints_chart<'a>(
    e: &Experiment,
    f: &super::memory::Footprints,
    subtitle: &str,
) -> StackedChart<'a> {
    use super::memory::Split;
    let mut bars = Vec::new();
    let mut groups: Vec<(String, f64)> = Vec::new();
    let mut x = 0.6;
    let parts = |s: &Split, monitor: f64| vec![s.kernel_image, s.buffer_cache, s.data, monitor];
    let bar = |x: f64, label: &str, parts| Stacked {
        x,
        labels: vec![label.to_string()],
        parts,
    };
    for b in &f.bars {
        if let (Some(v), Some(m)) = (b.virtual_mib, b.machine_mib) {
            bars.push(bar(x, "V", Ok(parts(&v, 0.0))));
            bars.push(bar(
                x + 1.0,
                "M",
                Ok(parts(&m, b.monitor_mib.unwrap_or(0.0))),
            ));
        }
        groups.push((b.config.clone(), x + 0.5));
        x += 2.8;
    }
    let (pv, pm) = f.paper_8vms_mb;
    bars.push(bar(x, "V", Err(pv)));
    bars.push(bar(x + 1.0, "M", Err(pm)));
    groups.push(("paper, 8 VMs".into(), x + 0.5));
    StackedChart {
        caption: format!("{} — {}", e.title, subtitle),
        y_desc: "Memory footprint (MiB; paper: MB)",
        series: &FOOTPRINT_SERIES,
        bars,
        groups,
        paper_name: "paper (total only)",
    }
}

const NUMA_SERIES: [(&str, RGBColor); 5] = [
    ("execution", USER),
    ("local stall", KERNEL),
    ("remote stall", OTHER),
    ("monitor", MONITOR),
    ("idle", IDLE),
];

/// Figure 9: per workload a bar per configuration (execution, local and
/// remote stall, monitor, idle; NUMA = 100) with its local miss
/// percentage under it, and the paper's NUMA, Disco and UMA totals.
pub fn numa_chart<'a>(
    e: &Experiment,
    f: &super::numa::NumaFigure,
    subtitle: &str,
) -> StackedChart<'a> {
    let mut bars = Vec::new();
    let mut groups = Vec::new();
    let mut x = 0.6;
    let mut workloads: Vec<&str> = f.bars.iter().map(|b| b.workload.as_str()).collect();
    workloads.dedup();
    for w in workloads {
        let first = x;
        for b in f.bars.iter().filter(|b| b.workload == w) {
            let local = b
                .local_fraction
                .map_or("-".to_string(), |l| format!("{:.0}%", 100.0 * l));
            bars.push(Stacked {
                x,
                labels: vec![b.config.clone(), local],
                parts: b.parts.map(|p| p.to_vec()).ok_or(0.0),
            });
            x += 1.0;
        }
        if let Some(p) = f.paper.iter().find(|p| p.workload == w) {
            x += 0.3;
            for (name, total, local) in [
                ("p. NUMA", 100.0, p.local_pct[0]),
                ("p. Disco", p.disco, p.local_pct[1]),
                ("p. UMA", p.uma, p.local_pct[2]),
            ] {
                bars.push(Stacked {
                    x,
                    labels: vec![name.into(), format!("{local:.0}%")],
                    parts: Err(total),
                });
                x += 1.0;
            }
        }
        groups.push((w.to_string(), (first + x - 1.0) / 2.0));
        x += 0.8;
    }
    StackedChart {
        caption: format!("{} — {}", e.title, subtitle),
        y_desc: "Execution time (NUMA = 100)",
        series: &NUMA_SERIES,
        bars,
        groups,
        paper_name: "paper (total only)",
    }
}
