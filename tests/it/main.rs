//! proprio's integration tests: one binary (as ripgrep does), one module per concern.

mod ble;
mod board;
mod calibrate;
mod cli;
mod cmd;
mod common;
mod devices;
mod drill;
mod exchange;
mod gait;
mod imu_stance;
mod measure;
mod measures;
mod orientation;
mod plan;
mod programme;
mod recording;
mod session;
mod report;
mod shift;
mod sim_truth;
mod spine;
mod stance;
mod tui;
mod walk;
mod wobble;
