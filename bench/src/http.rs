//! The load generator's HTTP/1.1 client: one keep-alive connection per client, requests built
//! the same way for every contender, and the session cookies a response sets.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderValue;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// One keep-alive connection to a contender.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// The `Host` header, built once: every request shares its bytes.
    host: HeaderValue,
}

/// What the load generator keeps of a response.
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// The cookies it sets, as a `Cookie` header value (`None` when it sets none).
    pub cookies: Option<HeaderValue>,
    /// Its body.
    pub body: Bytes,
}

impl Connection {
    /// Opens a connection (TCP_NODELAY, HTTP/1.1 handshake); the connection task runs until
    /// either side closes.
    pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            // Closed by the server or dropped by the client: either ends the slice's use of it.
            let _ = connection.await;
        });
        let host = HeaderValue::try_from(addr.to_string()).map_err(|e| e.to_string())?;
        Ok(Connection { sender, host })
    }

    /// Sends one request and reads the whole response.
    ///
    /// The `Host` and `Cookie` values are shared, already checked bytes (a `HeaderValue`
    /// clone is a reference count), so what a request costs the load generator does not grow
    /// with the length of a contender's cookie: on a machine the generator shares with the
    /// server, that cost would otherwise count against contenders with longer cookies (a JWT).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        cookie: Option<&HeaderValue>,
        form: Option<String>,
    ) -> Result<Reply, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie.clone());
        }
        let body = match form {
            Some(form) => {
                request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).map_err(|e| e.to_string())?;
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let cookies = cookies(response.headers());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            cookies,
            body,
        })
    }
}

/// The cookies that `Set-Cookie` headers set (removals left out), as one `Cookie` header value.
pub fn cookies(headers: &HeaderMap) -> Option<HeaderValue> {
    let pairs: Vec<&str> = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.to_ascii_lowercase().contains("max-age=0"))
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .filter(|pair| {
            pair.split_once('=')
                .is_some_and(|(_, value)| !value.is_empty())
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    // Joined from parts of valid header values with "; ", which is valid too.
    HeaderValue::from_str(&pairs.join("; ")).ok()
}
