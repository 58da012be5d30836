//! `aidlink-relay`: `serve`, `check-config`, `replay`, `migrate-storage` (docs/contract.md). The library holds the
//! logic; this file only wires it to the command line, the process and its signals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aidlink_relay::clock::now_ms;
use aidlink_relay::config::Config;
use aidlink_relay::http::{self, AppState};
use aidlink_relay::metrics::Metrics;
use aidlink_relay::migrate;
use aidlink_relay::outbox::{self, Outbox};
use aidlink_relay::reload::{self, Settings};
use aidlink_relay::{saved, store};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

/// aidlink relay: stores bindings, takes Calltouch webhooks, decides per your settings and
/// delivers RTB House postbacks once per lead.
#[derive(Parser)]
#[command(name = "aidlink-relay", version)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay (HTTP server, decisions, postback delivery).
    Serve {
        /// Configuration file (TOML; see relay/relay.example.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a configuration file: exit 0 when valid (printing a warning for each RTB House
    /// credential a site has not set yet), else print each problem with its key path and exit 2.
    CheckConfig {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Re-queue dead-lettered postbacks of a site (all, or one lead) for delivery.
    Replay {
        /// Configuration file (for the storage URL).
        #[arg(long)]
        config: PathBuf,
        /// Calltouch site id.
        #[arg(long)]
        site: String,
        /// Only this lead (`call-<id>` / `request-<requestId>`).
        #[arg(long)]
        lead: Option<String>,
        /// Also re-queue postbacks past RTB House's 24 hours (which it refuses, as a rule).
        #[arg(long)]
        force: bool,
    },
    /// Copy everything stored (bindings, leads, their events, the outbox, delivery attempts)
    /// from one storage to another, e.g. SQLite to PostgreSQL. Stop the relays first. Refuses a
    /// target that already holds rows unless --resume; rows already copied are skipped, so a
    /// second run adds nothing. Prints progress, then each table's counts; exits non-zero when
    /// the target's counts differ from the source's.
    MigrateStorage {
        /// Source storage URL (sqlite://PATH or postgres://…).
        #[arg(long)]
        from: String,
        /// Target storage URL (created and migrated when new).
        #[arg(long)]
        to: String,
        /// Continue an interrupted copy into a target that already holds some of the rows.
        #[arg(long)]
        resume: bool,
        /// Rows per batch.
        #[arg(long, default_value_t = 1000)]
        batch: u32,
    },
}

/// `url` with its password hidden, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// How often the settings version is read, to pick up settings saved on the operator's screen
/// (by this instance or another sharing the database).
const SAVED_EVERY: Duration = Duration::from_secs(2);
/// How often leads left undecided (a failed decision) are decided again.
const SWEEP_EVERY: Duration = Duration::from_secs(3);
/// How often retention looks for rows older than `storage.retention`.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        for line in e.lines() {
            eprintln!("{line}");
        }
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    match cli.command {
        Command::CheckConfig { config } => match load(&config) {
            Ok(c) => {
                for warning in c.warnings() {
                    eprintln!("warning: {warning}");
                }
                println!("{}: valid ({} site(s))", config.display(), c.site.len());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Replay {
            config,
            site,
            lead,
            force,
        } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report(runtime().and_then(|rt| rt.block_on(replay(config, site, lead, force))))
        }
        Command::MigrateStorage {
            from,
            to,
            resume,
            batch,
        } => report(runtime().and_then(|rt| rt.block_on(migrate_storage(from, to, resume, batch)))),
        Command::Serve { config: path } => {
            let config = match load(&path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            report(runtime().and_then(|rt| rt.block_on(serve(config, path))))
        }
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aidlink-relay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIDLINK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn replay(
    config: Config,
    site: String,
    lead: Option<String>,
    force: bool,
) -> anyhow::Result<()> {
    let store = store::open(&config.storage).await?;
    // A site added on the operator's screen exists only in storage.
    let settings = Settings::new(config);
    saved::refresh(&settings, &*store).await?;
    anyhow::ensure!(
        settings.current().site(&site).is_some(),
        "--site {site}: not in the configuration nor saved on the operator's screen"
    );
    let letters = store.dead_letters(site.clone(), lead.clone()).await?;
    let (requeue, refused) = outbox::replayable(letters, now_ms(), force);
    for (lead_id, why) in &refused {
        eprintln!("{lead_id}: not re-queued: {why}; --force re-queues it anyway");
    }
    let n = store
        .requeue_dead(site.clone(), requeue, force, now_ms())
        .await?;
    println!(
        "re-queued {n} dead-lettered postback(s) of site {site}; {} refused as too old for RTB House; a running relay delivers them shortly",
        refused.len()
    );
    anyhow::ensure!(
        lead.is_none() || refused.is_empty(),
        "--lead {}: not re-queued (see above)",
        lead.as_deref().unwrap_or_default()
    );
    Ok(())
}

async fn migrate_storage(from: String, to: String, resume: bool, batch: u32) -> anyhow::Result<()> {
    anyhow::ensure!(from != to, "--from and --to name the same storage");
    anyhow::ensure!((1..=10_000).contains(&batch), "--batch: must be 1 to 10000");
    let source = store::rows::open(&from)
        .await
        .with_context(|| format!("--from {}: cannot open", redact(&from)))?;
    let target = store::rows::open(&to)
        .await
        .with_context(|| format!("--to {}: cannot open", redact(&to)))?;
    println!("copying {} → {}", redact(&from), redact(&to));
    let options = migrate::Options { resume, batch };
    let report = migrate::copy(&*source, &*target, options, &mut |p| {
        println!(
            "  {}: {} of {} rows read, {} new in the target",
            p.table.name(),
            p.read,
            p.of,
            p.new
        )
    })
    .await;
    match report {
        Ok(report) => {
            for t in &report.tables {
                println!(
                    "{}: source {}, target {} ({} copied now)",
                    t.table.name(),
                    t.source,
                    t.target,
                    t.new
                );
            }
            println!("counts match: the copy is complete");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn serve(config: Config, path: PathBuf) -> anyhow::Result<()> {
    let listen: SocketAddr = config.server.listen.parse().context("server.listen")?;
    let url = config.storage.url.clone();
    let store = store::open(&config.storage)
        .await
        .with_context(|| format!("storage.url = {}: cannot open", redact(&url)))?;
    // Refuse to start on storage that answers reads but cannot commit (a read-only file or
    // directory, a full disk): every webhook would be refused with 503.
    store.probe_write(now_ms()).await.with_context(|| {
        format!(
            "storage.url = {}: cannot write (read-only file or directory, or disk full?)",
            redact(&url)
        )
    })?;
    let limits = http::serve::Limits::from_config(&config.server);
    let settings = Settings::new(config);
    // Sites saved on the operator's screen replace the file's before anything is decided.
    saved::refresh(&settings, &*store)
        .await
        .context("reading the settings saved on the operator's screen")?;
    reload::log_warnings(&settings.current());
    let metrics = Arc::new(Metrics::default());
    let wake = Arc::new(tokio::sync::Notify::new());
    let state = AppState::new(
        settings.clone(),
        store.clone(),
        metrics.clone(),
        wake.clone(),
    );

    // Leads stored before a crash but not decided: decide them now (and every few seconds
    // from then on, for decisions that fail on a storage error).
    let pipeline = state.pipeline.clone();
    pipeline.decide_undecided(true).await?;
    tokio::spawn(pipeline.clone().sweep(SWEEP_EVERY));
    tokio::spawn(pipeline.retain(RETAIN_EVERY, aidlink_relay::pipeline::RETAIN_BATCH));
    tokio::spawn(
        Outbox {
            store,
            settings: settings.clone(),
            wake,
            metrics,
        }
        .run(),
    );
    tokio::spawn(saved::watch(
        settings.clone(),
        state.store.clone(),
        SAVED_EVERY,
    ));
    tokio::spawn(reload::watch(settings, path, Duration::from_secs(2)));

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let bound = listener.local_addr()?;
    println!("aidlink-relay listening on http://{bound}");
    tracing::info!(address = %bound, "listening");
    http::serve::run(listener, http::app(state), limits, shutdown()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let terminate = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
