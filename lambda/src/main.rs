//! `bootstrap`: the Lambda runtime loop around [`s3ec_lambda::Handler::handle`].
#![forbid(unsafe_code)]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use s3ec_lambda::{Handler, S3BatchJobEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let h = Handler::from_env().await;
    lambda_runtime::run(service_fn(|ev: LambdaEvent<S3BatchJobEvent>| {
        let h = h.clone();
        async move { Ok::<_, Error>(h.handle(ev.payload).await) }
    }))
    .await
}
