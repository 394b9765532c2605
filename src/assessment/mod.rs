//! The assessment's life: states and the transitions between them. No HTTP, no database.
pub mod candidates;
pub mod completion;
pub mod invite;
pub mod lifecycle;
pub mod notice;
pub mod personal_data;
pub mod questionnaire;
pub mod reminders;
pub mod report;
pub mod results;
pub mod sandbox;
pub mod scoring;
pub mod search;
pub mod timeline;

/// An assessment's state; its transitions are [`State::apply`].
pub use crate::entity::enums::AssessmentState as State;
/// Where an assessment came from.
pub use crate::entity::enums::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Start,
    Complete,
    Cancel,
    Expire,
    Decline,
}

/// What applying an event to a state means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state changes to this one.
    To(State),
    /// Nothing changes and that is fine: the same finishing call repeated, or a start of an
    /// assessment that has already started.
    NoOp,
    /// Not allowed from this state: a finished assessment never changes again.
    Refused,
}

impl State {
    /// The states an assessment ends in.
    pub const FINISHED: [State; 4] = [State::Completed, State::Cancelled, State::Expired, State::Declined];

    pub fn is_finished(self) -> bool {
        !matches!(self, State::Invited | State::Started)
    }

    pub fn apply(self, event: Event) -> Transition {
        use Event::*;
        use State::*;
        match (self, event) {
            (Invited, Start) => Transition::To(Started),
            (Started, Start) => Transition::NoOp,
            (Invited | Started, Complete) => Transition::To(Completed),
            (Invited | Started, Cancel) => Transition::To(Cancelled),
            (Invited | Started, Expire) => Transition::To(Expired),
            (Invited | Started, Decline) => Transition::To(Declined),
            (Completed, Complete) | (Cancelled, Cancel) | (Expired, Expire) | (Declined, Decline) => Transition::NoOp,
            _ => Transition::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path() {
        assert_eq!(State::Invited.apply(Event::Start), Transition::To(State::Started));
        assert_eq!(State::Started.apply(Event::Complete), Transition::To(State::Completed));
    }

    #[test]
    fn finished_states_never_change_and_repeats_are_no_ops() {
        let events = [
            Event::Start,
            Event::Complete,
            Event::Cancel,
            Event::Expire,
            Event::Decline,
        ];
        assert_eq!(
            State::ALL.into_iter().filter(|s| s.is_finished()).collect::<Vec<_>>(),
            State::FINISHED.to_vec()
        );
        for state in State::ALL.into_iter().filter(|s| s.is_finished()) {
            for event in events {
                let t = state.apply(event);
                assert!(
                    matches!(t, Transition::NoOp | Transition::Refused),
                    "{state} {event:?} -> {t:?}"
                );
            }
        }
        assert_eq!(State::Completed.apply(Event::Complete), Transition::NoOp);
        assert_eq!(State::Cancelled.apply(Event::Cancel), Transition::NoOp);
        assert_eq!(State::Completed.apply(Event::Cancel), Transition::Refused);
    }

    #[test]
    fn open_states_can_be_finished_every_way() {
        for state in [State::Invited, State::Started] {
            assert_eq!(state.apply(Event::Cancel), Transition::To(State::Cancelled));
            assert_eq!(state.apply(Event::Expire), Transition::To(State::Expired));
            assert_eq!(state.apply(Event::Decline), Transition::To(State::Declined));
        }
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
    }
}
