//! Cues for the user, decided from drill events: which kinds the user wants ([`CueKinds`]),
//! and when to ask the wearable to buzz ([`HapticCues`]).
//!
//! A buzz when the board leaves the target band, never more often than the cooldown, so that
//! a user who wobbles at the band's edge is not buzzed continuously; the visual and sound cues
//! (the live view's) also say when the user has corrected.

use proprio_protocol::HostMessage;
use serde::{Deserialize, Serialize};

use crate::drill::DrillEvent;

/// The kinds of cue a user asked for in a drill (all by default); a session's header records
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CueKinds {
    /// The live view marks leaving the band and flashes "corrected" on coming back.
    pub visual: bool,
    /// The terminal bell: once on leaving the band, twice on coming back.
    pub sound: bool,
    /// The wearable buzzes on leaving the band ([`HapticCues`]).
    pub haptic: bool,
}

impl Default for CueKinds {
    fn default() -> Self {
        CueKinds {
            visual: true,
            sound: true,
            haptic: true,
        }
    }
}

/// Haptic cue settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HapticCues {
    /// Length of one buzz, ms.
    pub buzz_ms: u16,
    /// Least time between two buzzes, s of drill time.
    pub cooldown_s: f64,
    last_buzz_s: Option<f64>,
}

impl Default for HapticCues {
    fn default() -> Self {
        HapticCues {
            buzz_ms: 150,
            cooldown_s: 3.0,
            last_buzz_s: None,
        }
    }
}

impl HapticCues {
    /// The command to send for `event`, if any.
    pub fn on_event(&mut self, event: &DrillEvent) -> Option<HostMessage> {
        let DrillEvent::LeftBand { t_s, .. } = *event else {
            return None;
        };
        if self
            .last_buzz_s
            .is_some_and(|last| t_s - last < self.cooldown_s)
        {
            return None;
        }
        self.last_buzz_s = Some(t_s);
        Some(HostMessage::Vibrate {
            duration_ms: self.buzz_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::Side;

    #[test]
    fn buzzes_on_leaving_the_band_with_a_cooldown() {
        let mut cues = HapticCues::default();
        let left = |t_s| DrillEvent::LeftBand {
            t_s,
            side: Side::Positive,
            direction_deg: None,
        };
        assert!(cues.on_event(&left(1.0)).is_some());
        assert!(cues.on_event(&DrillEvent::Corrected { t_s: 1.5 }).is_none());
        assert!(cues.on_event(&left(2.0)).is_none(), "within the cooldown");
        assert_eq!(
            cues.on_event(&left(4.5)),
            Some(HostMessage::Vibrate { duration_ms: 150 })
        );
    }
}
