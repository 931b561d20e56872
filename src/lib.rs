//! proprio: a posture and balance trainer for people recovering from low back pain.
//!
//! This crate is proprio's core and its command-line application. The core is sans-IO: it
//! decodes, filters, scores and simulates, but does no I/O, reads no clock and spawns nothing;
//! time arrives as data. The I/O edges (links, files, the terminal) live in [`app`], behind the
//! default `cli` feature.
//!
//! # Brief overview
//! The data flows `device → link → decode → pipeline → drill → result`, and every session is
//! recorded on the way:
//! - [`sim`]: a seeded virtual person on a virtual device, emitting the bytes a real device sends.
//! - [`decode`]: bytes → device messages; sequence numbers and the device clock tracked.
//! - [`pipeline`]: raw counts → SI units → calibration → orientation → board tilt.
//! - [`drill`]: drills, their measures, events and scores.
//! - [`measures`]: the standard posturography measures and their canonical preprocessing.
//! - [`session`]: records in, a [`session::SessionReport`] out; the same code live and in replay.
//! - [`scoring`]: quality gates, the personal baseline and its minimal detectable change, the
//!   0–100 progress score and the verdict.
//! - [`plan`]: the progression ladder of each drill, from past results.
//! - [`guided`]: the guided session's rules: the check-in's pain thresholds, today's drills.
//! - [`recording`]: the recording file format.
//! - [`quality`]: the data-quality record that goes with every result.
//! - [`cues`]: when to buzz the wearable.
//! - [`calibrate`]: the guided calibration routines (steps advance on what the data shows).
//! - [`eval`]: orientation accuracy against optical ground truth (BROAD-format trials).
//!
//! The wire protocol is its own no_std crate, [`proprio_protocol`]; calibration math is
//! [`proprio_calibration`].

#![deny(missing_docs)]

pub mod calibrate;
pub mod cues;
pub mod decode;
pub mod devices;
pub mod drill;
pub mod eval;
pub mod guided;
pub mod measures;
pub mod pipeline;
pub mod plan;
pub mod quality;
pub mod recording;
pub mod scoring;
pub mod session;
pub mod sim;

#[cfg(feature = "cli")]
pub mod app;

/// Standard gravity, m/s² (also turns kilograms into newtons).
pub const G_M_S2: f64 = 9.806_65;
