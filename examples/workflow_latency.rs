//! Load generator for `bench/temporal.sh`: N sequential one-instance SpinUp and TearDown
//! workflows through one client, printing each workflow's latency in milliseconds as
//! `spinup <ms>` / `teardown <ms>` lines.

use std::time::Instant;

use berth::worker;
use berth_workflows::{SHARED_TASK_QUEUE, SpinUp, SpinUpInput, TearDown, TearDownInput};
use clap::Parser;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};

#[derive(Parser)]
struct Arguments {
    /// Temporal's address.
    #[arg(long)]
    address: String,
    /// The instance to spin up and tear down, such as `web:0`.
    #[arg(long)]
    spec: String,
    /// How many rounds.
    #[arg(long, default_value_t = 100)]
    rounds: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let (client, _) = worker::connect(Some(&arguments.address), None, "berth-bench".to_string()).await?;
    for round in 0..arguments.rounds {
        let started = Instant::now();
        let up = SpinUpInput {
            start_timeout_seconds: Some(60),
            maximum_attempts: 1,
            ..SpinUpInput::new(vec![arguments.spec.clone()])
        };
        let options =
            WorkflowStartOptions::new(SHARED_TASK_QUEUE, format!("bench-up-{}-{round}", std::process::id())).build();
        client
            .start_workflow(SpinUp::run, serde_json::to_value(&up)?, options)
            .await?
            .get_result(WorkflowGetResultOptions::default())
            .await?;
        println!("spinup {:.3}", started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let down = TearDownInput { volumes: true, ..TearDownInput::new(vec![arguments.spec.clone()]) };
        let options =
            WorkflowStartOptions::new(SHARED_TASK_QUEUE, format!("bench-down-{}-{round}", std::process::id())).build();
        client
            .start_workflow(TearDown::run, serde_json::to_value(&down)?, options)
            .await?
            .get_result(WorkflowGetResultOptions::default())
            .await?;
        println!("teardown {:.3}", started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(())
}
