//! The guided session's rules (sans-IO): the check-in, what today's plan holds, and what a
//! drill run as part of a guided session records in its header.
//!
//! - **Check-in**: pain now on the 0–10 numeric rating scale (NRS) and how the user feels
//!   compared with last time ([`Feeling`]).
//! - **High pain** ([`REST_FROM_NRS`] or more): no drill today; the user is advised to rest
//!   (rehab must never be painful).
//! - **Moderate pain** ([`EASY_FROM_NRS`] up to the high threshold): only the
//!   [`EASY_DRILLS`] easiest drills of today's list, each one level below the plan's (never
//!   below 1). A session at another level than the plan's does not move the plan (see
//!   [`crate::plan`]), unless it is a pain stop.
//! - **Today's drills** ([`todays_drills`]): the drills for the sensor the user has, easiest
//!   first ([`drills_for`]), each at the plan's level.
//!
//! The app's `session` command (`app::guided`) walks the user through them.

use serde::{Deserialize, Serialize};

use crate::drill::DrillKind;
use crate::scoring::DeviceClass;

/// Pain (NRS) from which the session refuses to start drills and advises rest.
pub const REST_FROM_NRS: u8 = 7;
/// Pain (NRS) from which only the easiest drills are done, one level lower.
pub const EASY_FROM_NRS: u8 = 4;
/// Drills done on a day of moderate pain.
pub const EASY_DRILLS: usize = 2;
/// The highest pain on the scale.
pub const MAX_NRS: u8 = 10;

/// How the user feels compared with their last session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feeling {
    /// Better than last time.
    Better,
    /// About the same.
    Same,
    /// Worse than last time.
    Worse,
}

impl Feeling {
    /// For people.
    pub fn words(self) -> &'static str {
        match self {
            Feeling::Better => "better",
            Feeling::Same => "about the same",
            Feeling::Worse => "worse",
        }
    }
}

/// What the check-in allows today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allowance {
    /// Low pain: today's drills at the plan's levels.
    Full,
    /// Moderate pain: the easiest drills only, a level lower.
    Easier,
    /// High pain: no drills; rest.
    Rest,
}

impl Allowance {
    /// The allowance for a pain of `pain_nrs` (0–10).
    pub fn for_pain(pain_nrs: u8) -> Allowance {
        if pain_nrs >= REST_FROM_NRS {
            Allowance::Rest
        } else if pain_nrs >= EASY_FROM_NRS {
            Allowance::Easier
        } else {
            Allowance::Full
        }
    }

    /// What it means, in a sentence for people.
    pub fn words(self) -> String {
        match self {
            Allowance::Full => "Today's drills at your plan's levels.".to_string(),
            Allowance::Easier => format!(
                "Your back hurts a bit today: only the {EASY_DRILLS} easiest drills, each one \
                 level lower, and stop at once if it hurts more."
            ),
            Allowance::Rest => format!(
                "Pain of {REST_FROM_NRS} or more: no drills today. Rest, move gently as is \
                 comfortable, and see your clinician if the pain persists or gets worse."
            ),
        }
    }
}

/// The drills a guided session offers on `device`, easiest first: on the wearable (on the
/// lower back), holding a neutral spine, standing still, then walking heel to toe; on a
/// balance board, standing still, shifting the weight, then the narrower stances. The rocker
/// and wobble boards need the IMU strapped to a board: only when asked for by name.
pub fn drills_for(device: DeviceClass) -> &'static [DrillKind] {
    match device {
        DeviceClass::Imu => &[
            DrillKind::NeutralSpine,
            DrillKind::QuietStance,
            DrillKind::TandemWalk,
        ],
        DeviceClass::BalanceBoard => &[
            DrillKind::QuietStance,
            DrillKind::WeightShift,
            DrillKind::TandemStance,
            DrillKind::SingleLeg,
        ],
    }
}

/// One drill of today's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDrill {
    /// The drill.
    pub drill: DrillKind,
    /// The level to run it at.
    pub level: u8,
    /// The plan's level for it (the same, unless the check-in lowered it).
    pub plan_level: u8,
}

/// Today's drills: `drills` (the user's choice, or [`drills_for`] the sensor) as the
/// `allowance` lets them be, each at `plan_level(drill)` (lowered by one on a day of
/// moderate pain). Empty on a day of rest.
pub fn todays_drills(
    drills: &[DrillKind],
    allowance: Allowance,
    plan_level: impl Fn(DrillKind) -> u8,
) -> Vec<PlannedDrill> {
    let (count, lower) = match allowance {
        Allowance::Full => (drills.len(), 0),
        Allowance::Easier => (EASY_DRILLS, 1),
        Allowance::Rest => (0, 0),
    };
    drills
        .iter()
        .take(count)
        .map(|&drill| {
            let plan_level = plan_level(drill);
            PlannedDrill {
                drill,
                level: plan_level.saturating_sub(lower).max(1),
                plan_level,
            }
        })
        .collect()
}

/// What a drill run in a guided session keeps in its recording's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuidedInfo {
    /// The guided session's id: its summary is `<data>/sessions/<id>.json`.
    pub session: String,
    /// Pain at the check-in, 0 (none) to 10 (worst), the numeric rating scale.
    pub pain_nrs: u8,
    /// How the user felt at the check-in, compared with last time.
    pub feeling: Feeling,
    /// This drill's place in the session, from 1.
    pub drill_number: u8,
    /// Drills planned for the session.
    pub drills_planned: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pain_thresholds() {
        let allowance: Vec<Allowance> = (0..=MAX_NRS).map(Allowance::for_pain).collect();
        assert!(allowance[..4].iter().all(|a| *a == Allowance::Full));
        assert!(allowance[4..7].iter().all(|a| *a == Allowance::Easier));
        assert!(allowance[7..].iter().all(|a| *a == Allowance::Rest));
    }

    #[test]
    fn todays_drills_follow_the_check_in() {
        let board = drills_for(DeviceClass::BalanceBoard);
        let level = |drill: DrillKind| {
            if drill == DrillKind::QuietStance {
                3
            } else {
                1
            }
        };
        let full = todays_drills(board, Allowance::Full, level);
        assert_eq!(full.len(), 4);
        assert_eq!(full[0].drill, DrillKind::QuietStance);
        assert_eq!((full[0].level, full[0].plan_level), (3, 3));
        let easier = todays_drills(board, Allowance::Easier, level);
        assert_eq!(easier.len(), 2);
        // One lower, but never below level 1.
        assert_eq!((easier[0].level, easier[0].plan_level), (2, 3));
        assert_eq!((easier[1].level, easier[1].plan_level), (1, 1));
        assert!(todays_drills(board, Allowance::Rest, level).is_empty());
    }

    #[test]
    fn every_drill_offered_runs_on_its_sensor() {
        for device in [DeviceClass::Imu, DeviceClass::BalanceBoard] {
            let drills = drills_for(device);
            assert!((2..=4).contains(&drills.len()));
            for drill in drills {
                assert!(
                    DeviceClass::for_drill(*drill).contains(&device),
                    "{drill:?}"
                );
            }
        }
    }
}
