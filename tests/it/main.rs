//! proprio's integration tests: one binary (as ripgrep does), one module per concern.

mod ble;
mod board;
mod cli;
mod cmd;
mod common;
mod config;
mod devices;
mod drill;
mod gait;
mod history;
mod imu_stance;
mod measure;
mod measures;
mod orientation;
mod plan;
mod recording;
mod shift;
mod sim_truth;
mod spine;
mod stance;
mod tui;
mod walk;
mod wobble;
