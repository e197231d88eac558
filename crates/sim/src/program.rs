//! A device command written as straight-line code that stops to ask the host for more:
//! it runs on its own thread, and each question leaves the device as a message while the
//! program waits for the host's answer. Dropping the [`Program`] ends it (the host gave up):
//! its next question returns `None` and the thread unwinds normally.

use std::{
    sync::mpsc::{channel, Receiver, Sender},
    thread,
};

/// What a program does next.
pub(crate) enum Step<Q, D> {
    /// Sends a question and waits.
    Ask(Q),
    /// Finished with this result.
    Done(D),
}

/// A program waiting for the host.
pub(crate) struct Program<Q, A, D> {
    answers: Sender<A>,
    steps: Receiver<Step<Q, D>>,
}

/// The program's side of the conversation.
pub(crate) struct Host<Q, A, D> {
    steps: Sender<Step<Q, D>>,
    answers: Receiver<A>,
}

impl<Q, A, D> Host<Q, A, D> {
    /// Asks the host `q`; `None` if the program was abandoned.
    pub(crate) fn ask(&self, q: Q) -> Option<A> {
        self.steps.send(Step::Ask(q)).ok()?;
        self.answers.recv().ok()
    }
}

impl<Q: Send + 'static, A: Send + 'static, D: Send + 'static> Program<Q, A, D> {
    /// Starts `body` and returns it with its first step (`None` if it could not start).
    pub(crate) fn start(
        name: &str,
        body: impl FnOnce(&Host<Q, A, D>) -> D + Send + 'static,
    ) -> (Self, Option<Step<Q, D>>) {
        let (step_tx, steps) = channel();
        let (answers, answer_rx) = channel();
        let spawned = thread::Builder::new().name(name.into()).spawn(move || {
            let host = Host {
                steps: step_tx.clone(),
                answers: answer_rx,
            };
            let out = body(&host);
            let _ = step_tx.send(Step::Done(out));
        });
        let program = Self { answers, steps };
        let first = spawned.ok().and_then(|_| program.steps.recv().ok());
        (program, first)
    }

    /// Hands the host's answer to the program; returns its next step.
    pub(crate) fn resume(&self, answer: A) -> Option<Step<Q, D>> {
        self.answers.send(answer).ok()?;
        self.steps.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_asks_until_done_and_can_be_abandoned() {
        let (p, first) = Program::<u32, u32, u32>::start("t", |h| {
            let a = h.ask(1).unwrap_or(0);
            let b = h.ask(a + 1).unwrap_or(0);
            a + b
        });
        assert!(matches!(first, Some(Step::Ask(1))));
        assert!(matches!(p.resume(10), Some(Step::Ask(11))));
        assert!(matches!(p.resume(5), Some(Step::Done(15))));

        let (p, _) = Program::<u32, u32, u32>::start("t", |h| h.ask(1).map_or(99, |_| 0));
        drop(p); // the thread sees None and finishes on its own
    }
}
