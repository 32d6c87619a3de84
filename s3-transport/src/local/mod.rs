//! An S3 server embedded in the process (s3s-fs over a local folder, on 127.0.0.1), for
//! `s3ec demo`, `s3ec --local DIR`, and tests. It checks SigV4 signatures like S3.

mod store;

use crate::error::{Error, Result};
use aws_sdk_s3::config::{Credentials, Region};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The access key the embedded server accepts.
pub const LOCAL_ACCESS_KEY: &str = "s3ec-local";
/// The secret key the embedded server accepts.
pub const LOCAL_SECRET_KEY: &str = "s3ec-local-secret";
/// The region clients of the embedded server use.
pub const LOCAL_REGION: &str = "us-east-1";

/// A running embedded S3 server. Stop it with [`LocalS3::stop`] (dropping it also stops it).
#[derive(Debug)]
pub struct LocalS3 {
    addr: SocketAddr,
    root: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LocalS3 {
    /// Serve the folder `root` (created if absent; each sub-folder is a bucket) on
    /// 127.0.0.1 at an ephemeral port.
    pub async fn start(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root)?;
        let fs = store::Store::new(&root)
            .map_err(|e| Error::config(format!("cannot serve {}: {e}", root.display())))?;
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(
                LOCAL_ACCESS_KEY,
                LOCAL_SECRET_KEY.to_owned(),
            ));
            b.build()
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, mut rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                let socket = tokio::select! {
                    r = listener.accept() => match r {
                        Ok((s, _)) => {
                            // Responses go out as written (head, then body), as a real store's
                            // do: no Nagle wait on the peer's delayed ACK per request.
                            let _ = s.set_nodelay(true);
                            s
                        }
                        Err(_) => continue,
                    },
                    _ = &mut rx => break,
                };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone());
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            drop(listener);
            tokio::select! {
                () = graceful.shutdown() => {},
                () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {},
            }
        });
        Ok(LocalS3 {
            addr,
            root,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The folder served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// An AWS configuration for this server: its endpoint, static credentials, a region.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint())
    }

    /// An S3 client for this server (path-style addressing).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        s3_client_for(&self.sdk_config())
    }

    /// Stop serving and wait for open connections to finish (at most 5 s).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// An AWS configuration for an S3-compatible endpoint with the embedded server's credentials.
pub fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(LOCAL_REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, None, None, "s3ec-local"),
        ))
        .build()
}

/// An S3 client with path-style addressing (what S3-compatible stores need).
pub fn s3_client_for(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let c = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(c)
}
