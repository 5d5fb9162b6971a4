//! Where commands write their results: standard output in the program, a buffer in tests. Logs go to stderr.

use serde::Serialize;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A sink for command results.
pub struct Output {
    sink: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").finish_non_exhaustive()
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
    /// Standard output.
    pub fn stdout() -> Output {
        Output { sink: Box::new(std::io::stdout()) }
    }

    /// An output that keeps what is written, for tests.
    pub fn capture() -> (Output, Captured) {
        let captured = Captured::default();
        (Output { sink: Box::new(CaptureWriter(captured.0.clone())) }, captured)
    }

    /// Writes a value as pretty JSON and a newline.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        writeln!(self, "{text}")
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
