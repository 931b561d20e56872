//! The live view: a full-screen terminal UI people can balance by, read from two steps away.
//!
//! - `model`: [`UiState`], what is shown when (the headline and its tone, the gauge, the big
//!   numbers, event marks, the connection line, the "corrected" flash and the bells), updated
//!   from the session's live status, drill events, link news and the host clock; no terminal.
//! - `draw`: one frame as a function of the model (ratatui).
//! - [`LiveView`]: the terminal: the alternate screen in raw mode, keys, the bell, a redraw per
//!   tick of the live loop (never per sample), and the terminal given back on every way out: on
//!   drop (a normal end, Ctrl-C, an error from the loop, a lost link) and from a panic hook (a
//!   panic in any thread; the view then stops and the loop ends with an error).
//! - [`ProgressLine`]: where standard output is not a terminal but standard error is, a progress
//!   line there, rewritten at most once a second.
//! - [`LatencyProbe`]: with `PROPRIO_LATENCY_REPORT=FILE`, the time from each decoded sample to
//!   the frame that draws it, written to FILE as JSON at the end (`benches/live_latency.rs`).
//!
//! Keys: `p` stops because it hurts (recorded as a pain stop), `q`, Esc or Ctrl-C stop.

mod draw;
mod model;

use std::io::{self, IsTerminal, Stdout, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, style, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use draw::{big_text, keys_line, DIGIT_ROWS};
pub use model::{UiState, KEYS};

/// A key the user pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Stop the drill.
    Stop,
    /// Stop the drill: it hurts.
    Pain,
    /// A digit (the guided session's check-in).
    Digit(u8),
    /// Enter or the space bar: go on.
    Enter,
    /// Backspace: take back a digit.
    Back,
    /// Another letter, lower case.
    Letter(char),
}

/// True while the view has the terminal (raw mode, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Held while a frame is written, so that the panic hook does not give the terminal back in
/// the middle of one.
static WRITING: Mutex<()> = Mutex::new(());
static PANIC_HOOK: Once = Once::new();

/// Gives the terminal back (once): the normal screen, the cursor, cooked mode.
fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(
            out,
            style::ResetColor,
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
        let _ = out.flush();
    }
}

/// Restores the terminal before any panic's report, then runs the hook that was there before.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Wait briefly for a frame being written; the panic may be in the drawing thread
            // itself, which holds the lock.
            for _ in 0..20 {
                if let Ok(_frame) = WRITING.try_lock() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            restore_terminal();
            previous(info);
        }));
    });
}

/// The live view; gives the terminal back when dropped.
pub struct LiveView {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl LiveView {
    /// Takes over the terminal: raw mode for single keys, the alternate screen, no cursor.
    pub fn start() -> io::Result<LiveView> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let started = execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match started {
            Ok(terminal) => Ok(LiveView { terminal }),
            Err(error) => {
                restore_terminal();
                Err(error)
            }
        }
    }

    /// Keys pressed since the last call (never blocks).
    pub fn keys(&mut self) -> Vec<Key> {
        let mut keys = Vec::new();
        while event::poll(Duration::ZERO).unwrap_or(false) {
            // Resizes need nothing: every frame is drawn at the terminal's size of the moment.
            let Ok(Event::Key(KeyEvent {
                code,
                modifiers,
                kind,
                ..
            })) = event::read()
            else {
                continue;
            };
            if kind != KeyEventKind::Press {
                continue;
            }
            match code {
                KeyCode::Char('p') | KeyCode::Char('P') => keys.push(Key::Pain),
                KeyCode::Char('q') | KeyCode::Esc => keys.push(Key::Stop),
                // Raw mode turns Ctrl-C into a key rather than a signal.
                KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => {
                    keys.push(Key::Stop)
                }
                KeyCode::Char(c @ '0'..='9') => keys.push(Key::Digit(c as u8 - b'0')),
                KeyCode::Enter | KeyCode::Char(' ') => keys.push(Key::Enter),
                KeyCode::Backspace => keys.push(Key::Back),
                KeyCode::Char(c) if c.is_ascii_alphabetic() => {
                    keys.push(Key::Letter(c.to_ascii_lowercase()))
                }
                _ => {}
            }
        }
        keys
    }

    /// Rings the bells that are due and draws a frame of `ui`. Fails once the terminal has
    /// been given back after a panic elsewhere.
    pub fn draw(&mut self, ui: &mut UiState) -> io::Result<()> {
        let bells = ui.take_bells();
        self.frame(bells, |frame| draw::render(frame, ui))
    }

    /// Draws a frame with `render` (the guided session's screens between drills). Fails once
    /// the terminal has been given back after a panic elsewhere.
    pub fn draw_with(&mut self, render: impl FnOnce(&mut ratatui::Frame)) -> io::Result<()> {
        self.frame(0, render)
    }

    /// Rings `bells` bells, then draws a frame with `render`, while no one else writes.
    fn frame(&mut self, bells: usize, render: impl FnOnce(&mut ratatui::Frame)) -> io::Result<()> {
        let _frame = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        if !ACTIVE.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "the live view stopped: a part of proprio failed and the terminal was given back",
            ));
        }
        if bells > 0 {
            // The bells due now; a second one of a pair comes on a later tick.
            let backend = self.terminal.backend_mut();
            backend.write_all(&vec![0x07; bells])?;
            backend.flush()?;
        }
        self.terminal.draw(render)?;
        Ok(())
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        let _frame = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        restore_terminal();
    }
}

/// Where there is no live view (standard output is not a terminal) but a person watches
/// standard error: one line, rewritten in place at most once a second, cleared at the end (on
/// drop, so that an error's sentence starts on a clean line).
pub struct ProgressLine {
    last: Option<Instant>,
}

/// The progress line's interval.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

impl ProgressLine {
    /// A progress line, when standard error is a terminal (in a script's log it would be
    /// noise around the one sentence an error gets).
    pub fn on_stderr() -> Option<Self> {
        io::stderr()
            .is_terminal()
            .then_some(ProgressLine { last: None })
    }

    /// True when a second has passed since the line was last written (or it never was).
    pub fn due(&self) -> bool {
        self.last
            .is_none_or(|last| last.elapsed() >= PROGRESS_EVERY)
    }

    /// Rewrites the line with `ui`'s state.
    pub fn print(&mut self, ui: &UiState) {
        self.last = Some(Instant::now());
        // Cut to the terminal's width: a wrapped line could not be rewritten in place.
        let width = terminal::size().map_or(80, |(columns, _)| usize::from(columns));
        let line: String = ui
            .progress_line()
            .chars()
            .take(width.saturating_sub(1))
            .collect();
        // Best effort: a closed standard error must not stop the drill.
        let _ = write!(io::stderr(), "\r\x1b[2K{line}");
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if self.last.is_some() {
            let _ = write!(io::stderr(), "\r\x1b[2K");
        }
    }
}

/// The environment variable naming the file [`LatencyProbe`] writes.
pub const LATENCY_REPORT_ENV: &str = "PROPRIO_LATENCY_REPORT";

/// The live view's own timing: for every decoded sample, the time until the frame that shows
/// it has been written to the terminal; for every frame, the age of the newest sample in it
/// and the time the frame took.
pub struct LatencyProbe {
    path: PathBuf,
    frame_interval: Duration,
    /// Decode times of the samples not yet drawn.
    pending: Vec<Instant>,
    sample_to_frame_us: Vec<u32>,
    newest_age_us: Vec<u32>,
    draw_us: Vec<u32>,
}

impl LatencyProbe {
    /// A probe when [`LATENCY_REPORT_ENV`] names a file.
    pub fn from_env(frame_interval: Duration) -> Option<Self> {
        let path = std::env::var_os(LATENCY_REPORT_ENV)?;
        Some(LatencyProbe {
            path: PathBuf::from(path),
            frame_interval,
            pending: Vec::new(),
            sample_to_frame_us: Vec::new(),
            newest_age_us: Vec::new(),
            draw_us: Vec::new(),
        })
    }

    /// `count` samples were decoded just now.
    pub fn decoded(&mut self, count: u64) {
        let now = Instant::now();
        self.pending
            .extend(std::iter::repeat_n(now, count as usize));
    }

    /// A frame begun at `started` has just been written.
    pub fn drawn(&mut self, started: Instant) {
        let now = Instant::now();
        let us = |from: Instant| {
            now.duration_since(from)
                .as_micros()
                .min(u128::from(u32::MAX)) as u32
        };
        self.draw_us.push(us(started));
        if let Some(&newest) = self.pending.last() {
            self.newest_age_us.push(us(newest));
        }
        for &decoded in &self.pending {
            self.sample_to_frame_us.push(us(decoded));
        }
        self.pending.clear();
    }

    /// Writes the distributions, ms, as one JSON object.
    pub fn write(&mut self) -> io::Result<()> {
        let summary = |values: &mut Vec<u32>| {
            values.sort_unstable();
            let at = |q: f64| {
                values
                    .get(((values.len() as f64 - 1.0) * q).round() as usize)
                    .map_or(0.0, |&us| f64::from(us) / 1000.0)
            };
            let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>()
                / values.len().max(1) as f64
                / 1000.0;
            serde_json::json!({
                "count": values.len(),
                "mean": mean,
                "p50": at(0.5),
                "p90": at(0.9),
                "p99": at(0.99),
                "max": at(1.0),
            })
        };
        let report = serde_json::json!({
            "frame_interval_ms": self.frame_interval.as_secs_f64() * 1000.0,
            "sample_to_frame_ms": summary(&mut self.sample_to_frame_us),
            "newest_sample_age_ms": summary(&mut self.newest_age_us),
            "draw_ms": summary(&mut self.draw_us),
        });
        std::fs::write(&self.path, format!("{report}\n"))
    }

    /// The file it writes.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static EARLIER_HOOK_RAN: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_panic_in_another_thread_gives_the_terminal_back_and_runs_the_earlier_hook() {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            EARLIER_HOOK_RAN.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
        install_panic_hook();
        // As while the view has the terminal (this test has none to take).
        ACTIVE.store(true, Ordering::SeqCst);
        let worker = std::thread::spawn(|| panic!("a link's thread fails"));
        assert!(worker.join().is_err());
        assert!(
            !ACTIVE.load(Ordering::SeqCst),
            "the terminal was given back"
        );
        assert!(EARLIER_HOOK_RAN.load(Ordering::SeqCst) >= 1, "chained");
    }
}
