//! Running the steps of an operation: on its own task, all at once, or again after a pause.

use std::future::Future;
use std::time::Duration;

use crate::error::StoreError;

/// Runs `work` on its own Tokio task and waits for it. If the caller stops waiting (a timeout,
/// a dropped request), the work still runs to its end, so a sequence of steps across cluster
/// slots is never left half done.
pub(super) async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(e) => Err(StoreError::Backend(Box::new(e))),
    }
}

/// Runs every item of `work` on its own task, all at once (each to its end, as
/// [`to_completion`]), and returns their results in order; the first error if any failed.
pub(super) async fn all<T: Send + 'static, F>(
    work: impl IntoIterator<Item = F>,
) -> Result<Vec<T>, StoreError>
where
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let handles: Vec<_> = work.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut first_error = None;
    for handle in handles {
        match handle.await {
            Ok(Ok(value)) => out.push(value),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                first_error.get_or_insert(StoreError::Backend(Box::new(e)));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// How long a write waits, in total, for a rotation that holds the record to finish: about a
/// second, in doubling pauses from 1 ms. A rotation takes a few round trips; one that has not
/// finished by then was cut off (see the module docs), and its session is over.
pub(super) struct Patience {
    pause: Duration,
}

/// The longest single pause of [`Patience`].
const LONGEST_PAUSE: Duration = Duration::from_millis(512);

impl Patience {
    pub(super) fn new() -> Self {
        Self {
            pause: Duration::from_millis(1),
        }
    }

    /// Waits a little longer each time; `false` (without waiting) once patience is spent.
    pub(super) async fn wait(&mut self) -> bool {
        if self.pause > LONGEST_PAUSE {
            return false;
        }
        tokio::time::sleep(self.pause).await;
        self.pause *= 2;
        true
    }
}
