//! The fleet page: every host's instances and leases, as `berth fleet` lists them, for the
//! web view of a worker or of `berth serve --temporal`.
//!
//! Asking the fleet starts a workflow per host and question, and a gone host takes its
//! whole bound to answer; so one answer serves every page for a few seconds, and requests
//! arriving while the fleet is being asked wait for that answer instead of asking again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use temporalio_client::Client;

use crate::fleet::{self, Host};

/// How long one answer of the fleet is shown before it is asked again.
const FRESH: Duration = Duration::from_secs(10);
/// How long asking may take in all: connecting, finding the hosts, and their answers.
const ASK_BOUND: Duration = Duration::from_secs(60);

/// The fleet as last asked: its hosts, or why it could not be asked at all.
pub type Answer = Result<Vec<Host>, String>;

/// Where the fleet is asked: a Temporal cluster, connected when first needed.
#[derive(Clone)]
pub struct FleetSource {
    address: Option<String>,
    client: Arc<tokio::sync::OnceCell<Client>>,
    latest: Arc<tokio::sync::Mutex<Option<Asked>>>,
}

/// An answer and when it was asked for.
struct Asked {
    at: Instant,
    answer: Arc<Answer>,
}

impl FleetSource {
    /// The cluster at `address` (`None`: the standard Temporal configuration).
    pub fn at(address: Option<String>) -> Self {
        Self { address, client: Arc::default(), latest: Arc::default() }
    }

    /// A cluster already connected (the worker's own).
    pub fn connected(client: Client) -> Self {
        Self { address: None, client: Arc::new(tokio::sync::OnceCell::new_with(Some(client))), latest: Arc::default() }
    }

    /// The fleet, asked again when the last answer is older than a few seconds.
    pub async fn answer(&self) -> Arc<Answer> {
        let mut latest = self.latest.lock().await;
        if let Some(asked) = latest.as_ref()
            && asked.at.elapsed() < FRESH
        {
            return asked.answer.clone();
        }
        let answer = match tokio::time::timeout(ASK_BOUND, self.ask()).await {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "Temporal did not answer within {}s; is the cluster{} up?",
                ASK_BOUND.as_secs(),
                self.address.as_deref().map_or_else(String::new, |address| format!(" at {address}"))
            )),
        };
        let answer = Arc::new(answer);
        *latest = Some(Asked { at: Instant::now(), answer: answer.clone() });
        answer
    }

    /// The cluster's client, connecting to it if that has not worked yet.
    pub async fn client(&self) -> Result<&Client, String> {
        self.client
            .get_or_try_init(|| async {
                let identity = format!("berth-web:{}", std::process::id());
                crate::worker::connect(self.address.as_deref(), None, identity).await.map(|(client, _)| client)
            })
            .await
            .map_err(|error| format!("{error:#}"))
    }

    async fn ask(&self) -> Answer {
        let client = self.client().await?;
        let hosts = fleet::find_hosts(client).await.map_err(|error| format!("{error:#}"))?;
        Ok(fleet::ask(client, &hosts).await)
    }
}
