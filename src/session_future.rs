//! [`SessionFuture`], the response future of [`SessionService`](crate::SessionService): the
//! inner service's response, then the session cookie written on it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use axum::http::header;
use axum::response::Response;
use tracing::Instrument as _;

use crate::request::RequestSession;
use crate::responder::{RejectionResponder, RequestFacts};

pin_project_lite::pin_project! {
    /// The future a [`SessionService`](crate::SessionService) answers a request with: the
    /// inner service's response, reshaped by the
    /// [`rejection_responder`](crate::SessionConfig::rejection_responder) when one is set,
    /// with the session cookie written on it.
    ///
    /// A named type rather than a boxed one: a request that only reads its session (nearly
    /// every request) has no cookie to write, and is answered the moment the inner service
    /// answers, with no future of the layer's own allocated or moved onto the heap.
    ///
    /// ```
    /// use axum::{Router, body::Body, http::Request, response::Response, routing::get};
    /// use sessionward::{MemoryStore, SessionConfig, SessionFuture, SessionLayer, SessionService};
    /// use tower::{Layer, Service};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let mut service: SessionService<Router> =
    ///     SessionLayer::database(MemoryStore::new(), SessionConfig::default())
    ///         .layer(Router::new().route("/", get(|| async { "hello" })));
    /// let future: SessionFuture<_> = service.call(Request::get("/").body(Body::empty())?);
    /// let response: Response = future.await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct SessionFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State<F> {
        /// Answered by the layer itself (a refused cross-origin request).
        Answered { response: Option<Response> },
        /// The inner service is working on the request.
        Serving {
            #[pin]
            answer: F,
            settle: Option<Settle>,
        },
        /// The session cookie is being written (the session changed, or the browser moves off
        /// the previous cookie).
        Finishing { finishing: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

/// What the layer does with the inner service's response.
pub(crate) struct Settle {
    pub(crate) session: Arc<RequestSession>,
    /// The configured rejection responder, with what it needs to know of the request.
    pub(crate) responder: Option<(RejectionResponder, RequestFacts)>,
    /// Whether a `Set-Cookie` on this response would go over plain http to another machine,
    /// and this layer has not warned about that yet.
    pub(crate) warn_insecure: bool,
    /// The request's `session` span, when a subscriber wants it: entered while the inner
    /// service and the cookie writing run.
    pub(crate) span: Option<tracing::Span>,
}

/// A response that is ready, or the work left before it is.
enum Settled {
    Ready(Response),
    Finishing(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl<F> SessionFuture<F> {
    /// A response the layer gives without calling the inner service.
    pub(crate) fn answered(response: Response) -> Self {
        Self {
            state: State::Answered {
                response: Some(response),
            },
        }
    }

    /// The inner service's `answer`, then `settle`.
    pub(crate) fn serving(answer: F, settle: Settle) -> Self {
        Self {
            state: State::Serving {
                answer,
                settle: Some(settle),
            },
        }
    }
}

impl<F> Future for SessionFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProjection::Answered { response } => {
                    let response = response
                        .take()
                        .expect("SessionFuture polled after completion");
                    return Poll::Ready(Ok(response));
                }
                StateProjection::Serving { answer, settle } => {
                    let entered = settle
                        .as_ref()
                        .and_then(|settle| settle.span.as_ref())
                        .map(tracing::Span::enter);
                    let Ok(response) = ready!(answer.poll(cx));
                    drop(entered);
                    let settle = settle
                        .take()
                        .expect("SessionFuture polled after completion");
                    match settle.settle(response) {
                        Settled::Ready(response) => return Poll::Ready(Ok(response)),
                        Settled::Finishing(finishing) => state.set(State::Finishing { finishing }),
                    }
                }
                StateProjection::Finishing { finishing } => {
                    return finishing.as_mut().poll(cx).map(Ok);
                }
            }
        }
    }
}

impl Settle {
    /// Reshapes a refusal, then writes the session cookie: at once when there is none to
    /// write, otherwise in the future it returns.
    fn settle(self, mut response: Response) -> Settled {
        if let Some((responder, facts)) = &self.responder {
            response = responder.reshape(response, facts);
        }
        if !self.session.may_write_cookie() {
            self.warn_if_insecure(&response);
            return Settled::Ready(response);
        }
        let span = self.span.clone();
        let finishing = async move {
            self.session.finish(response.headers_mut()).await;
            self.warn_if_insecure(&response);
            response
        };
        Settled::Finishing(match span {
            Some(span) => Box::pin(finishing.instrument(span)),
            None => Box::pin(finishing),
        })
    }

    /// Warns once per layer when a `Secure` session cookie goes over plain http to another
    /// machine, where browsers drop it.
    fn warn_if_insecure(&self, response: &Response) {
        if self.warn_insecure
            && response.headers().contains_key(header::SET_COOKIE)
            && !self
                .session
                .shared
                .warned_insecure
                .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "a Secure session cookie was sent over plain http to a host that is not \
                 loopback: browsers drop it, so nobody stays logged in. Serve https \
                 (behind a proxy: SessionConfig::trust_proxies, and have it send \
                 X-Forwarded-Proto), or for plain http on purpose SessionConfig::secure(false)"
            );
        }
    }
}
