//! The progress bars of `smelt compress`: one bar per phase (compressing, measuring,
//! writing), each in its own units and under 80 columns, none when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The phases of `smelt compress`, each with its own progress bar and units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Compressing,
    Measuring,
    Writing,
}

impl Phase {
    /// The bar's template; every line stays under 80 columns (`widest` in the tests).
    pub(super) fn template(self) -> &'static str {
        match self {
            Phase::Compressing => "compressing {bar:30} {pos}/{len} weights ({eta})",
            Phase::Measuring => "measuring   {bar:30} {pos}/{len} model runs ({eta})",
            Phase::Writing => "writing     {bar:30} {binary_bytes}/{binary_total_bytes}",
        }
    }
}

/// What a progress report does to the bar.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A new phase: a fresh bar with this phase's units, length and position, made before
    /// anything of it is drawn.
    Start { phase: Phase, len: u64, pos: u64 },
    /// The same phase: move the bar.
    Move(u64),
}

/// Turns (phase, done, total) reports into bar steps. One bar for every phase used to show,
/// at the switch to writing, the weight count against the byte total under the weights
/// template ("compressing 20/8686976 weights (9d)"): set_length redrew before the style
/// changed. A fresh bar per phase cannot mix units.
#[derive(Default)]
pub(super) struct Phases {
    current: Option<Phase>,
}

impl Phases {
    pub(super) fn step(&mut self, phase: Phase, done: u64, total: u64) -> Step {
        if self.current == Some(phase) {
            Step::Move(done)
        } else {
            self.current = Some(phase);
            Step::Start {
                phase,
                len: total,
                pos: done,
            }
        }
    }
}

/// The progress bars on stderr (none when it is not a terminal); cleared when dropped, so
/// an error leaves no half-drawn bar above its message.
pub(super) struct Bars {
    phases: Phases,
    bar: Option<ProgressBar>,
    target: Option<fn() -> ProgressDrawTarget>,
}

impl Bars {
    pub(super) fn new(target: Option<fn() -> ProgressDrawTarget>) -> Bars {
        Bars {
            phases: Phases::default(),
            bar: None,
            target,
        }
    }

    pub(super) fn report(&mut self, phase: Phase, done: u64, total: u64) {
        let Some(target) = self.target else { return };
        match self.phases.step(phase, done, total) {
            Step::Start { phase, len, pos } => {
                if let Some(old) = self.bar.take() {
                    old.finish_and_clear();
                }
                let style = ProgressStyle::with_template(phase.template())
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                self.bar = Some(
                    ProgressBar::with_draw_target(Some(len), target())
                        .with_style(style)
                        .with_position(pos),
                );
            }
            Step::Move(pos) => {
                if let Some(b) = &self.bar {
                    b.set_position(pos);
                }
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_starts_its_own_bar_with_its_own_units() {
        let mut p = Phases::default();
        assert_eq!(
            p.step(Phase::Compressing, 0, 20),
            Step::Start {
                phase: Phase::Compressing,
                len: 20,
                pos: 0
            }
        );
        assert_eq!(p.step(Phase::Compressing, 20, 20), Step::Move(20));
        // the first writing report: bytes against bytes, never 20 weights of 8686976 bytes
        assert_eq!(
            p.step(Phase::Writing, 4096, 8686976),
            Step::Start {
                phase: Phase::Writing,
                len: 8686976,
                pos: 4096
            }
        );
        assert_eq!(
            p.step(Phase::Writing, 8686976, 8686976),
            Step::Move(8686976)
        );
    }

    #[test]
    fn bars_switch_length_and_position_together() {
        let mut b = Bars::new(Some(ProgressDrawTarget::hidden));
        b.report(Phase::Compressing, 0, 20);
        b.report(Phase::Compressing, 20, 20);
        let first = b.bar.clone().unwrap();
        b.report(Phase::Measuring, 0, 7);
        let bar = b.bar.clone().unwrap();
        assert!(first.is_finished(), "the weights bar is done");
        assert_eq!((bar.length(), bar.position()), (Some(7), 0));
        b.report(Phase::Writing, 4096, 8686976);
        let bar = b.bar.clone().unwrap();
        assert_eq!((bar.length(), bar.position()), (Some(8686976), 4096));
        drop(b);
        assert!(bar.is_finished(), "cleared when dropped");
        // no terminal: no bar at all
        let mut b = Bars::new(None);
        b.report(Phase::Writing, 1, 2);
        assert!(b.bar.is_none());
    }

    /// The widest line a template draws, with each field at its widest plausible value.
    fn widest(template: &str) -> usize {
        let mut s = template.to_string();
        for (field, widest) in [
            ("{bar:30}", "#".repeat(30)),
            ("{pos}", "999999".into()),
            ("{len}", "999999".into()),
            ("{eta}", "52w".into()),
            ("{binary_bytes}", "1023.99 GiB".into()),
            ("{binary_total_bytes}", "1023.99 GiB".into()),
        ] {
            s = s.replace(field, &widest);
        }
        assert!(!s.contains('{'), "a field without a width: {s}");
        s.chars().count()
    }

    #[test]
    fn bar_lines_stay_under_80_columns() {
        for p in [Phase::Compressing, Phase::Measuring, Phase::Writing] {
            let w = widest(p.template());
            assert!(w < 80, "{p:?}: {w} columns");
        }
    }
}
