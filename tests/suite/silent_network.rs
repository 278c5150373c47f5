//! A TCP proxy on 127.0.0.1 whose forwarding the test stops without closing anything: a
//! network path that dies without a word (a NAT or firewall dropping an idle flow, a database
//! host that vanished). Nothing fails on such a connection until TCP gives up, many minutes
//! later, unless the code waiting on it has a bound of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The proxy: every connection to [`addr`](Self::addr) is forwarded to the target until
/// [`freeze`](Self::freeze); from then on, bytes are read and never passed on.
pub struct FreezingProxy {
    pub addr: SocketAddr,
    frozen: Arc<AtomicBool>,
}

impl FreezingProxy {
    /// A proxy in front of `target` (host:port).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().expect("its address");
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, flag.clone()));
                tokio::spawn(pump(server_read, client_write, flag.clone()));
            }
        });
        Self { addr, frozen }
    }

    /// Stops forwarding, silently.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            return;
        }
        if frozen.load(Ordering::SeqCst) {
            // Swallowed: keep reading so the sender never sees back-pressure either.
            continue;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
