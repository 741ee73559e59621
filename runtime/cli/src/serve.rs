//! `mlp serve DIR`: serves the versions a pipeline's push step writes to DIR over HTTP
//! (`mlp-serve`), until Ctrl-C, which stops it gracefully (requests in flight are answered).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The options of `mlp serve`.
pub(crate) struct ServeArgs {
    pub dir: PathBuf,
    pub host: std::net::IpAddr,
    pub port: u16,
    pub name: Option<String>,
    pub poll: Duration,
    pub max_batch: usize,
    pub batch_wait: Duration,
}

pub(crate) fn serve(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the server's runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let options = mlp_serve::Options {
        dir: args.dir.clone(),
        addr: std::net::SocketAddr::new(args.host, args.port),
        name: args.name,
        poll: args.poll,
        max_batch: args.max_batch,
        batch_wait: args.batch_wait,
    };
    runtime.block_on(async move {
        let server = match mlp_serve::start(options).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let url = format!("http://{}/v1/models/{}", server.local_addr(), server.name());
        outln!("serving model `{}` from {} at {url}:predict", server.name(), args.dir.display());
        match (server.version(), server.load_error()) {
            (Some(v), _) => outln!("version {v} loaded"),
            (None, Some(e)) => outln!("no version loaded: {e}"),
            (None, None) => {
                outln!("no version loaded yet: nothing is pushed to {}; waiting for a push", args.dir.display())
            }
        }
        outln!("metrics at http://{}/metrics; Ctrl-C stops", server.local_addr());
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: cannot wait for Ctrl-C: {e}");
        }
        outln!("stopping: answering the requests in flight");
        match server.shutdown().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}
