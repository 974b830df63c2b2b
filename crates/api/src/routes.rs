//! The traffic split, as the state machine decides it and every router writes and reads it.

/// Traffic split, primary + canary = 100. For A/B testing the canary side is the share of
/// *matching* requests; the rest always go to the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Routes {
    pub primary: i32,
    pub canary: i32,
    /// A copy of the primary's traffic is also sent to the canary (responses discarded).
    pub mirrored: bool,
}

impl Routes {
    pub const ALL_PRIMARY: Routes = Routes {
        primary: 100,
        canary: 0,
        mirrored: false,
    };
    pub const ALL_CANARY: Routes = Routes {
        primary: 0,
        canary: 100,
        mirrored: false,
    };

    /// `canary` percent to the canary, the rest to the primary.
    pub fn canary(canary: i32, mirrored: bool) -> Routes {
        let canary = canary.clamp(0, 100);
        Routes {
            primary: 100 - canary,
            canary,
            mirrored,
        }
    }
}
