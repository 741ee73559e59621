//! Batching: every predict request becomes a job on one queue; one batcher task merges queued
//! jobs into a batch of up to `max_batch` examples, runs the transform and the model once over
//! it on a blocking thread, and hands each job its own rows of the predictions.
//!
//! After a batch's first job, the batcher takes whatever is queued and then waits for more, at
//! most `batch_wait`, but only while requests are on their way: a request counts as arriving
//! from the moment its handler starts reading it until its job is queued ([`Arrivals`]). So a
//! batch never idles when nothing is coming (a fixed wait would add `batch_wait` to every
//! request of clients that wait for their answers before sending again), and while a batch is
//! running the requests that arrive meanwhile queue up and make the next one.
//!
//! A job carries the version its examples were read for, and a batch holds jobs of one version
//! only: a job for another version closes the batch and starts the next. So a request is
//! answered by the version it was read with, a swap never mixes versions in a batch, and a batch
//! in flight finishes on its version whatever was swapped in meanwhile. The model's outputs are
//! per row (no row's prediction depends on another's), so a request's answer is the one it gets
//! alone. Up to `workers` batches run at once.

use crate::metrics::Metrics;
use crate::version::{Loaded, Predictions};
use arrow_array::RecordBatch;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

/// The requests being read, which a batch waits for.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    count: AtomicUsize,
    none: Notify,
}

/// One request being read: counted until dropped (after its job is queued, or when it is
/// refused).
pub(crate) struct Arriving<'a>(&'a Arrivals);

impl Arrivals {
    /// Counts a request from now until the guard drops.
    pub(crate) fn enter(&self) -> Arriving<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        Arriving(self)
    }

    fn pending(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for Arriving<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none.notify_one();
        }
    }
}

/// The answer to one job: its rows' predictions, or why the batch failed.
pub(crate) type Answer = Result<Predictions, String>;

/// One request's examples, waiting to be batched.
pub(crate) struct Job {
    /// The version the examples were read for.
    pub version: Arc<Loaded>,
    /// The examples, with `version`'s input schema.
    pub batch: RecordBatch,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Answer>,
}

/// How batches are made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Most examples in a batch (a single larger request runs alone).
    pub max_batch: usize,
    /// The longest a batch waits for more jobs after its first (only while requests are being
    /// read).
    pub batch_wait: Duration,
    /// Batches running at once.
    pub workers: usize,
}

/// Starts the batcher task; jobs go to the returned queue, and handlers count the requests they
/// are reading in the returned [`Arrivals`]. The task ends when every sender is dropped and the
/// queued jobs are answered.
pub(crate) fn start(settings: Settings, metrics: Arc<Metrics>) -> (mpsc::Sender<Job>, Arc<Arrivals>) {
    let (tx, rx) = mpsc::channel(4096);
    let arrivals = Arc::new(Arrivals::default());
    tokio::spawn(run(rx, settings, metrics, arrivals.clone()));
    (tx, arrivals)
}

/// What waiting for the next job gave.
enum Next {
    Job(Job),
    /// Every request being read has been queued or refused: look at the queue again.
    Recheck,
    Done,
}

async fn run(mut rx: mpsc::Receiver<Job>, settings: Settings, metrics: Arc<Metrics>, arrivals: Arc<Arrivals>) {
    let permits = Arc::new(Semaphore::new(settings.workers.max(1)));
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => break,
            },
        };
        // Wait for a free worker before collecting: jobs queue up meanwhile and join this batch.
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let deadline = Instant::now() + settings.batch_wait;
        let mut rows = first.batch.num_rows();
        let mut jobs = vec![first];
        while rows < settings.max_batch {
            let next = match rx.try_recv() {
                Ok(j) => Next::Job(j),
                Err(mpsc::error::TryRecvError::Empty) if !settings.batch_wait.is_zero() && arrivals.pending() > 0 => {
                    tokio::select! {
                        j = rx.recv() => j.map_or(Next::Done, Next::Job),
                        () = arrivals.none.notified() => Next::Recheck,
                        () = tokio::time::sleep_until(deadline) => Next::Done,
                    }
                }
                Err(_) => Next::Done,
            };
            let job = match next {
                Next::Job(j) => j,
                Next::Recheck => continue,
                Next::Done => break,
            };
            if !Arc::ptr_eq(&job.version, &jobs[0].version) || rows + job.batch.num_rows() > settings.max_batch {
                carried = Some(job);
                break;
            }
            rows += job.batch.num_rows();
            jobs.push(job);
        }
        let metrics = metrics.clone();
        tokio::task::spawn_blocking(move || {
            score(jobs, &metrics);
            drop(permit);
        });
    }
    // Wait for the batches in flight.
    let _ = permits.acquire_many(settings.workers.max(1) as u32).await;
}

/// Runs one batch and answers its jobs.
fn score(jobs: Vec<Job>, metrics: &Metrics) {
    let version = jobs[0].version.clone();
    let rows: usize = jobs.iter().map(|j| j.batch.num_rows()).sum();
    metrics.batch(rows);
    let result = if jobs.len() == 1 {
        version.predict(&jobs[0].batch).map_err(|e| e.to_string())
    } else {
        let batches: Vec<&RecordBatch> = jobs.iter().map(|j| &j.batch).collect();
        arrow_select::concat::concat_batches(version.schema(), batches)
            .map_err(|e| format!("the batch could not be merged: {e}"))
            .and_then(|merged| version.predict(&merged).map_err(|e| e.to_string()))
    };
    match result {
        Ok(p) => {
            let mut offset = 0;
            for job in jobs {
                let n = job.batch.num_rows();
                let slice = Predictions {
                    prediction: p.prediction[offset..offset + n].to_vec(),
                    probabilities: p
                        .probabilities
                        .iter()
                        .map(|(c, v)| (c.clone(), v[offset..offset + n].to_vec()))
                        .collect(),
                };
                offset += n;
                // A client that went away no longer waits for its answer.
                let _ = job.reply.send(Ok(slice));
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}
