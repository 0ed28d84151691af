//! The health counter: HAProxy's rise/fall hysteresis as a pure state machine.
//!
//! A counter `health` lives in `0..=rise+fall-1`; the server is up iff `health >= rise`.
//!
//! - A failure while up takes one off; dropping below `rise` snaps the counter to 0 (down).
//!   A failure at 0 changes nothing.
//! - A success below the top adds one; reaching `rise` snaps it to `rise+fall-1` (fully up).
//!   A success while going down therefore restores a fully up server at once.
//! - The initial value is `rise`: servers start up, and a single failure marks them down.
//!   [`InitState`] (HAProxy's `init-state`) overrides it.
//!
//! So a server needs `rise` consecutive successes to come up, and `fall` consecutive
//! failures to go down once fully up. Nothing here reads a clock or does I/O.
//!
//! # Examples
//! ```
//! use lb_core::OpState;
//! use lb_health::hysteresis::{Hysteresis, Outcome};
//!
//! let mut h = Hysteresis::new(2, 3); // rise 2, fall 3
//! assert_eq!(h.status(), "UP 1/3");   // start-up: up, one failure from down
//! h.record(Outcome::Pass);
//! assert_eq!(h.status(), "UP");
//! let t = h.record(Outcome::Fail);
//! assert_eq!((t.from, t.to), (OpState::Up, OpState::GoingDown));
//! assert_eq!(h.status(), "UP 2/3");
//! h.record(Outcome::Fail);
//! let t = h.record(Outcome::Fail);
//! assert!(t.went_down());
//! assert_eq!(h.status(), "DOWN");
//! h.record(Outcome::Pass);
//! assert_eq!(h.status(), "DOWN 1/2");
//! assert!(h.record(Outcome::Pass).went_up());
//! assert_eq!(h.status(), "UP");
//! ```

use std::fmt;

use lb_core::OpState;

/// HAProxy's `init-state`: where the counter starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum InitState {
    /// Fully up: `fall` failures are needed to go down.
    FullyUp,
    /// Up, but one failure marks it down (`health = rise`). The default.
    #[default]
    Up,
    /// Down, one success from up (`health = rise - 1`).
    Down,
    /// Fully down: `rise` successes are needed to come up.
    FullyDown,
}

/// The result of one check as the counter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
}

/// What one [`Hysteresis::record`] did: the state before and after (equal when nothing
/// changed), and whether the failure was counted (HAProxy's `chkfail`).
///
/// States are the four [`OpState`]s a counter can express: `Up`, `GoingDown`, `Down`,
/// `GoingUp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    /// State before.
    pub from: OpState,
    /// State after.
    pub to: OpState,
    /// A failure that moved the counter (failures at 0 are not counted).
    pub counted_failure: bool,
}

impl Transition {
    /// Whether the state changed.
    pub fn changed(&self) -> bool {
        self.from != self.to
    }

    /// Whether the server went from up (or going down) to down (or going up).
    pub fn went_down(&self) -> bool {
        self.from.is_up() && !self.to.is_up()
    }

    /// Whether the server went from down (or going up) to up.
    pub fn went_up(&self) -> bool {
        !self.from.is_up() && self.to.is_up()
    }
}

/// The rise/fall health counter; see the [module docs](self).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    health: u32,
}

impl fmt::Debug for Hysteresis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hysteresis")
            .field("rise", &self.rise)
            .field("fall", &self.fall)
            .field("health", &self.health)
            .field("status", &self.status())
            .finish()
    }
}

impl Hysteresis {
    /// A counter with `rise` and `fall` (each at least 1; 0 is taken as 1), starting up
    /// (`health = rise`).
    pub fn new(rise: u32, fall: u32) -> Self {
        Self::with_init(rise, fall, InitState::Up)
    }

    /// A counter starting where `init` says.
    pub fn with_init(rise: u32, fall: u32, init: InitState) -> Self {
        let rise = rise.max(1);
        let fall = fall.max(1);
        let mut h = Hysteresis {
            rise,
            fall,
            health: 0,
        };
        h.reset(init);
        h
    }

    /// Puts the counter back where `init` says (leaving maintenance uses [`InitState::Up`]).
    pub fn reset(&mut self, init: InitState) {
        self.health = match init {
            InitState::FullyUp => self.max(),
            InitState::Up => self.rise,
            InitState::Down => self.rise - 1,
            InitState::FullyDown => 0,
        };
    }

    /// A counter at a raw `health` value, clamped into range (for restoring saved state).
    pub fn from_raw(rise: u32, fall: u32, health: u32) -> Self {
        let mut h = Self::new(rise, fall);
        h.health = health.min(h.max());
        h
    }

    /// `rise`.
    pub const fn rise(&self) -> u32 {
        self.rise
    }

    /// `fall`.
    pub const fn fall(&self) -> u32 {
        self.fall
    }

    /// The raw counter, in `0..=rise+fall-1`.
    pub const fn health(&self) -> u32 {
        self.health
    }

    /// The top of the counter, `rise + fall - 1` (fully up).
    pub const fn max(&self) -> u32 {
        self.rise + self.fall - 1
    }

    /// Whether the server counts as up (`health >= rise`).
    pub const fn is_up(&self) -> bool {
        self.health >= self.rise
    }

    /// The state the counter expresses: `Up` (top), `GoingDown` (up, below the top),
    /// `GoingUp` (down, above 0) or `Down` (0).
    pub const fn op_state(&self) -> OpState {
        if self.health >= self.rise {
            if self.health == self.rise + self.fall - 1 {
                OpState::Up
            } else {
                OpState::GoingDown
            }
        } else if self.health == 0 {
            OpState::Down
        } else {
            OpState::GoingUp
        }
    }

    /// Feeds one check result; see the [module docs](self) for the rules.
    pub fn record(&mut self, outcome: Outcome) -> Transition {
        let from = self.op_state();
        let mut counted_failure = false;
        match outcome {
            Outcome::Fail => {
                if self.health > 0 {
                    counted_failure = true;
                    self.health -= 1;
                    if self.health < self.rise {
                        self.health = 0;
                    }
                }
            }
            Outcome::Pass => {
                if self.health < self.max() {
                    self.health += 1;
                    if self.health >= self.rise {
                        self.health = self.max();
                    }
                }
            }
        }
        Transition {
            from,
            to: self.op_state(),
            counted_failure,
        }
    }

    /// Arms "sudden death" (`on-error sudden-death`): a fully up server keeps only one
    /// failure of margin. Call [`record`](Self::record) with a failure afterwards to
    /// simulate the failed check, as HAProxy does.
    pub fn sudden_death(&mut self) {
        if self.health > self.rise {
            self.health = self.rise + 1;
        }
    }

    /// Prepares "mark down" (`on-error mark-down`): the next failure takes the server
    /// down whatever its counter.
    pub fn mark_down(&mut self) {
        self.health = self.rise;
    }

    /// The stats-page string: `UP`, `UP a/b` (going down: `a` failures from down out of
    /// `fall`), `DOWN`, `DOWN a/b` (going up: `a` of `rise` successes seen).
    pub fn status(&self) -> String {
        self.status_with("UP")
    }

    /// As [`status`](Self::status), with `up` in place of `UP` for an up server (`NOLB`,
    /// `DRAIN`).
    pub fn status_with(&self, up: &str) -> String {
        match self.op_state() {
            OpState::Up => up.to_owned(),
            OpState::GoingDown => {
                format!("{up} {}/{}", self.health - self.rise + 1, self.fall)
            }
            OpState::Down => "DOWN".to_owned(),
            _ => format!("DOWN {}/{}", self.health, self.rise),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn starts_up_and_one_failure_marks_down() {
        let mut h = Hysteresis::new(2, 3);
        assert!(h.is_up());
        assert_eq!(h.op_state(), OpState::GoingDown);
        let t = h.record(Outcome::Fail);
        assert!(t.went_down());
        assert!(t.counted_failure);
        assert_eq!(h.health(), 0);
    }

    #[test]
    fn rise_and_fall_counts() {
        let mut h = Hysteresis::with_init(3, 2, InitState::FullyDown);
        assert_eq!(h.status(), "DOWN");
        assert_eq!(h.record(Outcome::Pass).to, OpState::GoingUp);
        assert_eq!(h.status(), "DOWN 1/3");
        h.record(Outcome::Pass);
        assert_eq!(h.status(), "DOWN 2/3");
        let t = h.record(Outcome::Pass);
        assert!(t.went_up());
        assert_eq!(h.health(), 4);
        assert_eq!(h.status(), "UP");
        assert_eq!(h.record(Outcome::Fail).to, OpState::GoingDown);
        assert_eq!(h.status(), "UP 1/2");
        assert!(h.record(Outcome::Fail).went_down());
        // Failure at 0: not counted.
        assert!(!h.record(Outcome::Fail).counted_failure);
    }

    #[test]
    fn success_while_going_down_restores_fully_up() {
        let mut h = Hysteresis::with_init(2, 3, InitState::FullyUp);
        h.record(Outcome::Fail);
        h.record(Outcome::Fail);
        assert_eq!(h.status(), "UP 1/3");
        let t = h.record(Outcome::Pass);
        assert_eq!((t.from, t.to), (OpState::GoingDown, OpState::Up));
    }

    #[test]
    fn failure_while_going_up_snaps_to_zero() {
        let mut h = Hysteresis::with_init(3, 3, InitState::FullyDown);
        h.record(Outcome::Pass);
        h.record(Outcome::Pass);
        assert_eq!(h.health(), 2);
        let t = h.record(Outcome::Fail);
        assert_eq!((t.from, t.to), (OpState::GoingUp, OpState::Down));
        assert_eq!(h.health(), 0);
    }

    #[test]
    fn init_states() {
        assert_eq!(
            Hysteresis::with_init(2, 3, InitState::FullyUp).status(),
            "UP"
        );
        assert_eq!(
            Hysteresis::with_init(2, 3, InitState::Up).status(),
            "UP 1/3"
        );
        assert_eq!(
            Hysteresis::with_init(2, 3, InitState::Down).status(),
            "DOWN 1/2"
        );
        assert_eq!(
            Hysteresis::with_init(2, 3, InitState::FullyDown).status(),
            "DOWN"
        );
        // rise 1: "down" is fully down, one success brings it up.
        let mut h = Hysteresis::with_init(1, 1, InitState::Down);
        assert_eq!(h.status(), "DOWN");
        assert!(h.record(Outcome::Pass).went_up());
        assert_eq!(h.status(), "UP");
    }

    #[test]
    fn sudden_death_and_mark_down() {
        let mut h = Hysteresis::with_init(2, 3, InitState::FullyUp);
        h.sudden_death();
        assert!(!h.record(Outcome::Fail).went_down());
        assert!(h.record(Outcome::Fail).went_down());

        let mut h = Hysteresis::with_init(2, 5, InitState::FullyUp);
        h.mark_down();
        assert!(h.record(Outcome::Fail).went_down());
    }

    #[test]
    fn zero_rise_fall_are_one() {
        let h = Hysteresis::new(0, 0);
        assert_eq!((h.rise(), h.fall(), h.max()), (1, 1, 1));
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![Just(Outcome::Pass), Just(Outcome::Fail)]
    }

    fn init() -> impl Strategy<Value = InitState> {
        prop_oneof![
            Just(InitState::FullyUp),
            Just(InitState::Up),
            Just(InitState::Down),
            Just(InitState::FullyDown)
        ]
    }

    proptest! {
        /// Any sequence keeps the counter in range, is_up agrees with health >= rise, and
        /// a state is entered only by the step the rules allow.
        #[test]
        fn invariants(rise in 1u32..8, fall in 1u32..8, init in init(),
                      seq in proptest::collection::vec(outcome(), 0..200)) {
            let mut h = Hysteresis::with_init(rise, fall, init);
            for o in seq {
                let before = h.health();
                let t = h.record(o);
                prop_assert!(h.health() < rise + fall);
                prop_assert_eq!(h.is_up(), h.health() >= rise);
                prop_assert_eq!(t.to, h.op_state());
                if t.went_down() {
                    prop_assert_eq!(o, Outcome::Fail);
                    prop_assert_eq!(h.health(), 0);
                    prop_assert_eq!(before, rise);
                }
                if t.went_up() {
                    prop_assert_eq!(o, Outcome::Pass);
                    prop_assert_eq!(h.health(), rise + fall - 1);
                    prop_assert_eq!(before, rise - 1);
                }
            }
        }

        /// Going down needs `fall` consecutive failures from fully up, and coming up
        /// needs `rise` consecutive successes from fully down.
        #[test]
        fn consecutive_counts(rise in 1u32..8, fall in 1u32..8) {
            let mut h = Hysteresis::with_init(rise, fall, InitState::FullyUp);
            for i in 1..=fall {
                let t = h.record(Outcome::Fail);
                prop_assert_eq!(t.went_down(), i == fall);
            }
            for i in 1..=rise {
                let t = h.record(Outcome::Pass);
                prop_assert_eq!(t.went_up(), i == rise);
            }
        }

        /// After the server was once fully up, going down takes `fall` consecutive
        /// failures; after it was once fully down, coming up takes `rise` consecutive
        /// successes, whatever the sequence.
        #[test]
        fn transitions_need_full_runs(rise in 1u32..6, fall in 1u32..6, init in init(),
                                      seq in proptest::collection::vec(outcome(), 0..300)) {
            let mut h = Hysteresis::with_init(rise, fall, init);
            let (mut seen_top, mut seen_bottom) = (h.health() == h.max(), h.health() == 0);
            let (mut fails, mut passes) = (0u32, 0u32);
            for o in seq {
                match o {
                    Outcome::Fail => { fails += 1; passes = 0; }
                    Outcome::Pass => { passes += 1; fails = 0; }
                }
                let t = h.record(o);
                if t.went_down() && seen_top {
                    prop_assert!(fails >= fall, "down after {} failures, fall {}", fails, fall);
                }
                if t.went_up() && seen_bottom {
                    prop_assert!(passes >= rise, "up after {} passes, rise {}", passes, rise);
                }
                seen_top |= h.health() == h.max();
                seen_bottom |= h.health() == 0;
            }
        }

        /// A server flapping every check (pass, fail, pass, ...) changes between up and
        /// down at most twice (the start-up state settling), unless rise and fall are
        /// both 1, where every check may flip it.
        #[test]
        fn flapping_is_bounded(rise in 1u32..6, fall in 1u32..6, init in init(),
                               start_with_pass in any::<bool>(), n in 2usize..300) {
            let mut h = Hysteresis::with_init(rise, fall, init);
            let mut flips = 0usize;
            for i in 0..n {
                let pass = (i % 2 == 0) == start_with_pass;
                let t = h.record(if pass { Outcome::Pass } else { Outcome::Fail });
                if t.went_up() || t.went_down() {
                    flips += 1;
                }
            }
            if rise > 1 || fall > 1 {
                prop_assert!(flips <= 2, "flipped {} times (rise {}, fall {})", flips, rise, fall);
            } else {
                prop_assert!(flips <= n);
            }
        }
    }
}
