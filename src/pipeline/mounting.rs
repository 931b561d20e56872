//! How the sensor is strapped on: the rotations from its axes to the body's (a wearable on the
//! lower back) and to the board's (a sensor strapped to a rocker or wobble board), from the
//! mounting calibration (`calibrate::mount`). The pipeline turns every calibrated sample into
//! the axes of the placement its drill uses, so a drill sees x forward, y left, z up whichever
//! way the sensor was strapped on.

use nalgebra::{Rotation3, UnitQuaternion};
use serde::{Deserialize, Serialize};

use super::{PipelineConfig, RockingAxis};

/// Where the sensor is for a drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Worn on the lower back: body axes x forward, y left, z up (standing upright).
    Back,
    /// Strapped to a rocker or wobble board: board axes x along the rocker's fulcrum (the
    /// wobble board's forward), y left, z up (the board level); a rocker tilts about x.
    Board,
}

/// The sensor's calibrated mountings; `None` where it was not calibrated (its axes are then
/// taken as the body's or the board's, as before the calibration existed).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Mountings {
    /// `body_from_imu` of the wearable on the lower back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back: Option<UnitQuaternion<f64>>,
    /// `board_from_imu` of the sensor on a board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<UnitQuaternion<f64>>,
    /// The placement whose mounting the pipeline applies (the session chooses it per drill);
    /// `None`: the samples stay in sensor axes (as a calibration routine wants them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

impl Mountings {
    /// True when nothing is calibrated or chosen (and nothing is recorded).
    pub fn is_empty(&self) -> bool {
        *self == Mountings::default()
    }

    /// The rotation the pipeline applies to every sample: the chosen placement's mounting.
    pub fn in_force(&self) -> Option<Rotation3<f64>> {
        let mounting = match self.placement? {
            Placement::Back => self.back,
            Placement::Board => self.board,
        };
        mounting.map(|q| q.to_rotation_matrix())
    }
}

impl PipelineConfig {
    /// This setup for a drill with the sensor at `placement`: the pipeline applies that
    /// placement's mounting, if calibrated. A calibrated board mounting defines the board's
    /// axes (x along the fulcrum), so a rocker then tilts about x.
    pub fn placed(&self, placement: Placement) -> PipelineConfig {
        let mut config = *self;
        config.mounting.placement = Some(placement);
        if placement == Placement::Board && config.mounting.board.is_some() {
            config.rocking_axis = RockingAxis::X;
        }
        config
    }
}
