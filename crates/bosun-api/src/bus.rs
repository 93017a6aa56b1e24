//! The orchestrator's event bus: two channels, so an agent that prints fast can never push a
//! run's state change out of a front end's queue.
//!
//! - **State** (run changes, gates, tasks, pause, notices, idle, stop): in order, to every
//!   subscriber. A subscriber that falls more than [`STATE_CAPACITY`] events behind is told
//!   ([`Missed::State`]) and must read the state again from the store (a snapshot) — it never
//!   goes on with a silently wrong picture.
//! - **Output** (agent output lines and progress): sampled under load. A subscriber that falls
//!   behind skips lines and is told how many ([`Missed::Output`]), to say so on screen.
//!
//! Sending never waits: a slow front end costs only its own backlog, never the orchestrator.

use tokio::sync::broadcast;

use super::Event;

/// State events a subscriber may fall behind before it must re-sync.
pub const STATE_CAPACITY: usize = 8192;
/// Output lines kept for a subscriber that falls behind.
pub const OUTPUT_CAPACITY: usize = 4096;

/// Where the orchestrator and its workers publish events.
#[derive(Clone)]
pub struct Bus {
    state: broadcast::Sender<Event>,
    output: broadcast::Sender<Event>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// A bus nobody listens to yet.
    pub fn new() -> Self {
        Self {
            state: broadcast::channel(STATE_CAPACITY).0,
            output: broadcast::channel(OUTPUT_CAPACITY).0,
        }
    }

    /// Publishes `event` on its channel (nobody listening is fine).
    pub fn send(&self, event: Event) {
        let channel = if event.is_output() {
            &self.output
        } else {
            &self.state
        };
        let _ = channel.send(event);
    }

    /// A subscriber that sees every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            state: self.state.subscribe(),
            output: Some(self.output.subscribe()),
        }
    }
}

impl Event {
    /// Whether the event is agent output (sampled under load) rather than state (never lost).
    pub fn is_output(&self) -> bool {
        matches!(self, Event::Output { .. } | Event::Progress { .. })
    }
}

/// What a subscriber missed, or that the bus is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// This many state events were dropped: read the state again.
    State(u64),
    /// This many output lines were skipped.
    Output(u64),
    /// The orchestrator is gone: nothing more will come.
    Closed,
}

/// One front end's view of the bus.
pub struct Subscription {
    state: broadcast::Receiver<Event>,
    output: Option<broadcast::Receiver<Event>>,
}

impl Subscription {
    /// The next event: state first when both have one waiting (so a flood of output never
    /// delays a run's change), else whichever comes.
    pub async fn recv(&mut self) -> Result<Event, Missed> {
        use broadcast::error::RecvError;
        let from_state = |r: Result<Event, RecvError>| match r {
            Ok(event) => Ok(event),
            Err(RecvError::Lagged(n)) => Err(Missed::State(n)),
            Err(RecvError::Closed) => Err(Missed::Closed),
        };
        let Some(output) = self.output.as_mut() else {
            return from_state(self.state.recv().await);
        };
        tokio::select! {
            biased;
            r = self.state.recv() => match r {
                // The bus is gone: what output is left still comes, then Closed.
                Err(RecvError::Closed) => match output.recv().await {
                    Ok(event) => Ok(event),
                    Err(RecvError::Lagged(n)) => Err(Missed::Output(n)),
                    Err(RecvError::Closed) => {
                        self.output = None;
                        Err(Missed::Closed)
                    }
                },
                r => from_state(r),
            },
            r = output.recv() => match r {
                Ok(event) => Ok(event),
                Err(RecvError::Lagged(n)) => Err(Missed::Output(n)),
                Err(RecvError::Closed) => {
                    self.output = None;
                    from_state(self.state.recv().await)
                }
            },
        }
    }

    /// Stops receiving output lines (state only), for front ends that do not show them.
    pub fn without_output(mut self) -> Self {
        self.output = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunId;

    fn line(i: usize) -> Event {
        Event::Output {
            run_id: RunId("r".into()),
            line: format!("line {i}"),
        }
    }

    fn notice(i: usize) -> Event {
        Event::Notice {
            text: format!("notice {i}"),
        }
    }

    /// The console's flood: an agent prints far more than a subscriber reads, run changes come
    /// in between. Every state event arrives, in order; the skipped output is counted.
    #[tokio::test]
    async fn a_flood_of_output_never_costs_a_state_event() {
        let bus = Bus::new();
        let mut sub = bus.subscribe();
        let lines = 50_000;
        for i in 0..lines {
            bus.send(line(i));
            if i % 100 == 0 {
                bus.send(notice(i / 100));
            }
        }
        drop(bus);
        let (mut notices, mut seen_lines, mut skipped) = (Vec::new(), 0u64, 0u64);
        loop {
            match sub.recv().await {
                Ok(Event::Notice { text }) => notices.push(text),
                Ok(Event::Output { .. }) => seen_lines += 1,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(Missed::Output(n)) => skipped += n,
                Err(Missed::State(n)) => panic!("{n} state events lost"),
                Err(Missed::Closed) => break,
            }
        }
        let want: Vec<String> = (0..lines / 100).map(|i| format!("notice {i}")).collect();
        assert_eq!(notices, want);
        assert_eq!(seen_lines + skipped, lines as u64);
        assert!(skipped > 0, "the subscriber read everything: no flood");
    }

    /// State is never dropped silently: a subscriber that falls behind it is told to re-sync.
    #[tokio::test]
    async fn a_subscriber_far_behind_on_state_is_told_to_resync() {
        let bus = Bus::new();
        let mut sub = bus.subscribe().without_output();
        for i in 0..STATE_CAPACITY + 10 {
            bus.send(notice(i));
        }
        assert!(matches!(sub.recv().await, Err(Missed::State(10))));
        match sub.recv().await {
            Ok(Event::Notice { text }) => assert_eq!(text, "notice 10"),
            other => panic!("{other:?}"),
        }
    }
}
