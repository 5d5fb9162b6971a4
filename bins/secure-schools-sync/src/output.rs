//! What the commands print: readable text and tables for people, JSON for machines, and a progress bar on a
//! terminal. Everything goes through [`Output`], so tests read exactly what a user would see.

use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use sync_engine::{Progress, ProgressEvent};

/// Where a command writes its results (stdout in the program; a buffer in tests). Logs go to stderr, never here.
pub struct Output {
    sink: Box<dyn Write + Send>,
    terminal: bool,
    color: bool,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").field("terminal", &self.terminal).finish_non_exhaustive()
    }
}

/// What a captured [`Output`] received.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The text written so far.
    pub fn text(&self) -> String {
        self.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("capture buffer poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// Standard output; colours and progress bars only on a terminal (and colours not with `NO_COLOR`).
    pub fn stdout() -> Output {
        let terminal = std::io::stdout().is_terminal();
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Output { sink: Box::new(std::io::stdout()), terminal, color }
    }

    /// An output that keeps what is written, for tests (no terminal, no colours, no progress bar).
    pub fn capture() -> (Output, Captured) {
        let captured = Captured::default();
        (Output { sink: Box::new(CaptureWriter(captured.0.clone())), terminal: false, color: false }, captured)
    }

    /// Whether it is a terminal (tables and progress bars) rather than a pipe or a file.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Writes a value as pretty JSON and a newline.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        writeln!(self, "{text}")
    }

    /// `text` in a colour, when colours are on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match style {
            Style::Good => "32",
            Style::Bad => "31",
            Style::Warn => "33",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A progress reporter for sync runs: a bar on a terminal, nothing otherwise.
    pub fn progress(&self) -> Box<dyn RunProgress> {
        if self.terminal { Box::new(BarProgress::default()) } else { Box::new(QuietProgress) }
    }

    /// A progress reporter for `total` organisations synced several at once: one bar over the organisations
    /// finished on a terminal (the per-batch events of runs that overlap are not shown), nothing otherwise.
    pub fn progress_organisations(&self, total: usize) -> Box<dyn RunProgress> {
        if self.terminal { Box::new(OrganisationsProgress::new(total)) } else { Box::new(QuietProgress) }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

/// Colours used in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Success (green).
    Good,
    /// Failure (red).
    Bad,
    /// Attention (yellow).
    Warn,
    /// Less important (dim).
    Dim,
    /// Headings (bold).
    Bold,
}

/// A plain text table: a header row and aligned columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let header: Vec<String> = header.into_iter().map(Into::into).collect();
        let right = vec![false; header.len()];
        Table { header, rows: Vec::new(), right }
    }

    /// Aligns a column to the right (numbers).
    pub fn right(mut self, column: usize) -> Table {
        if let Some(r) = self.right.get_mut(column) {
            *r = true;
        }
        self
    }

    /// Adds a row.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, each line ending in a newline.
    pub fn render(&self) -> String {
        let columns = self.header.len().max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |row: &[String]| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let pad = width.saturating_sub(cell.chars().count());
                if i > 0 {
                    text.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    if i + 1 < widths.len() {
                        text.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule);
        for row in &self.rows {
            line(row);
        }
        out
    }
}

/// Progress of sync runs, organisation after organisation.
pub trait RunProgress: Progress {
    /// An organisation's run starts (reading the source and the sink).
    fn begin(&self, organisation: &str);
    /// It ended.
    fn end(&self);
}

/// Shows nothing.
#[derive(Debug, Default)]
pub struct QuietProgress;

impl Progress for QuietProgress {
    fn event(&self, _event: &ProgressEvent) {}
}

impl RunProgress for QuietProgress {
    fn begin(&self, _organisation: &str) {}
    fn end(&self) {}
}

#[derive(Default)]
struct BarState {
    bar: Option<indicatif::ProgressBar>,
    /// Operations of earlier phases of the same run (each phase starts its own count).
    base: u64,
}

/// An indicatif bar on stderr: a spinner while reading, then a bar over the operations applied.
#[derive(Default)]
pub struct BarProgress(Mutex<BarState>);

impl std::fmt::Debug for BarProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BarProgress")
    }
}

fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg:30!} [{bar:40}] {pos}/{len} {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for BarProgress {
    fn event(&self, event: &ProgressEvent) {
        let Ok(mut state) = self.0.lock() else { return };
        match event {
            ProgressEvent::Started { organisation, total } => {
                let total = *total as u64;
                let base = match &state.bar {
                    Some(bar) if bar.length().is_some() => {
                        bar.inc_length(total);
                        bar.position()
                    }
                    Some(bar) => {
                        bar.set_length(total);
                        bar.set_position(0);
                        bar.set_message(organisation.to_string());
                        bar.set_style(bar_style());
                        0
                    }
                    None => {
                        let bar = indicatif::ProgressBar::new(total).with_style(bar_style());
                        bar.set_message(organisation.to_string());
                        state.bar = Some(bar);
                        0
                    }
                };
                state.base = base;
            }
            ProgressEvent::Batch { done, .. } => {
                if let Some(bar) = &state.bar {
                    bar.set_position(state.base + *done as u64);
                }
            }
        }
    }
}

impl RunProgress for BarProgress {
    fn begin(&self, organisation: &str) {
        let Ok(mut state) = self.0.lock() else { return };
        if let Some(old) = state.bar.take() {
            old.finish_and_clear();
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message(format!("{organisation}: reading"));
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        state.bar = Some(spinner);
        state.base = 0;
    }

    fn end(&self) {
        let Ok(mut state) = self.0.lock() else { return };
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// One indicatif bar on stderr over the organisations finished, for organisations synced several at once.
pub struct OrganisationsProgress {
    bar: indicatif::ProgressBar,
}

impl std::fmt::Debug for OrganisationsProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrganisationsProgress")
    }
}

impl OrganisationsProgress {
    /// A bar over `total` organisations.
    pub fn new(total: usize) -> OrganisationsProgress {
        let style = indicatif::ProgressStyle::with_template("organisations [{bar:40}] {pos}/{len} {elapsed} {msg:30!}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = indicatif::ProgressBar::new(total as u64).with_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        OrganisationsProgress { bar }
    }
}

impl Drop for OrganisationsProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for OrganisationsProgress {
    fn event(&self, _event: &ProgressEvent) {}
}

impl RunProgress for OrganisationsProgress {
    fn begin(&self, organisation: &str) {
        self.bar.set_message(format!("started {organisation}"));
    }

    fn end(&self) {
        self.bar.inc(1);
    }
}

/// A duration as people say it: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// A time as `2025-01-31 14:05:09 UTC`.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
