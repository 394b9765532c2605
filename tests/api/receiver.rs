//! A real local HTTP server that records what arrives and answers as told: the other end of
//! result pushes in tests.
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::eventually;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Script {
    /// Statuses to answer next, in order; then `default`.
    next: VecDeque<u16>,
    default: u16,
    delay: Duration,
    /// JSON bodies to answer next (with the next statuses), then `body`.
    next_bodies: VecDeque<serde_json::Value>,
    body: Option<serde_json::Value>,
    /// `Retry-After` (seconds) sent with the next answers, in order.
    next_retry_after: VecDeque<Option<u64>>,
}

#[derive(Clone, Default)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// Requests that arrived (recorded in `requests` once answered, after the delay).
    arrivals: Arc<std::sync::atomic::AtomicUsize>,
    /// Requests to `/token`, answered as an OAuth2 token endpoint.
    token_requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<Script>>,
    /// When each request arrived.
    arrived_at: Arc<Mutex<Vec<std::time::Instant>>>,
    /// Requests being answered now, and the most at once.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    most_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

pub struct Receiver {
    pub port: u16,
    shared: Shared,
    handle: Mutex<Option<ServerHandle>>,
    /// Bound to the port and never listening, for the receiver's whole life: while the receiver
    /// is stopped, connections are refused and no other process can take the port.
    held: socket2::Socket,
}

/// A socket on 127.0.0.1:`port` (0: any free port) that shares the port with this receiver's
/// other sockets (SO_REUSEPORT).
fn shared_socket(port: u16) -> socket2::Socket {
    use socket2::{Domain, Socket, Type};

    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
    socket.set_reuse_port(true).expect("SO_REUSEPORT");
    let address: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    socket.bind(&address.into()).expect("bind");
    socket
}

/// A listener on the port `held` holds.
fn listener_beside(held: &socket2::Socket) -> TcpListener {
    let port = held
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("an IPv4 address")
        .port();
    let socket = shared_socket(port);
    socket.listen(1024).expect("listen");
    socket.into()
}

async fn record(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if req.path() == "/token" {
        let mut tokens = shared.token_requests.lock().unwrap();
        tokens.push(Recorded {
            path: req.path().to_owned(),
            headers,
            body: body.to_vec(),
        });
        let token = format!("tok-{}", tokens.len());
        return HttpResponse::Ok()
            .json(serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}));
    }
    use std::sync::atomic::Ordering::SeqCst;
    shared.arrived_at.lock().unwrap().push(std::time::Instant::now());
    shared.arrivals.fetch_add(1, SeqCst);
    let now_in_flight = shared.in_flight.fetch_add(1, SeqCst) + 1;
    shared.most_in_flight.fetch_max(now_in_flight, SeqCst);
    let (status, delay, json, retry_after) = {
        let mut script = shared.script.lock().unwrap();
        let status = script.next.pop_front().unwrap_or(script.default);
        let json = script.next_bodies.pop_front().or_else(|| script.body.clone());
        let retry_after = script.next_retry_after.pop_front().flatten();
        (status, script.delay, json, retry_after)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    shared.in_flight.fetch_sub(1, SeqCst);
    shared.requests.lock().unwrap().push(Recorded {
        path: req.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(secs) = retry_after {
        response.insert_header(("Retry-After", secs.to_string()));
    }
    match json {
        Some(json) => response.json(json),
        None => response.body("receiver says hi"),
    }
}

fn start(listener: TcpListener, shared: Shared) -> ServerHandle {
    let data = web::Data::new(shared);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(record)))
        .workers(2)
        .listen(listener)
        .expect("receiver listens")
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}

impl Receiver {
    /// Starts answering 200 to everything.
    pub async fn start() -> Self {
        let held = shared_socket(0);
        let listener = listener_beside(&held);
        let port = listener.local_addr().unwrap().port();
        let shared = Shared::default();
        shared.script.lock().unwrap().default = 200;
        let handle = start(listener, shared.clone());
        Self {
            port,
            shared,
            handle: Mutex::new(Some(handle)),
            held,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answers these statuses next, then the default.
    pub fn answer_next(&self, statuses: &[u16]) {
        let mut script = self.shared.script.lock().unwrap();
        script.next.extend(statuses);
        script.next_retry_after.extend(statuses.iter().map(|_| None));
    }

    /// Answers this JSON body from now on (an Ashby-like peer).
    pub fn answer_json(&self, body: serde_json::Value) {
        self.shared.script.lock().unwrap().body = Some(body);
    }

    /// Answers these JSON bodies next, then the default body.
    pub fn answer_next_json(&self, bodies: Vec<serde_json::Value>) {
        self.shared.script.lock().unwrap().next_bodies.extend(bodies);
    }

    /// Answers `status` with `Retry-After: secs` next.
    pub fn answer_next_retry_after(&self, status: u16, secs: u64) {
        let mut script = self.shared.script.lock().unwrap();
        script.next.push_back(status);
        script.next_retry_after.push_back(Some(secs));
    }

    /// When each request arrived, in order.
    pub fn arrival_times(&self) -> Vec<std::time::Instant> {
        self.shared.arrived_at.lock().unwrap().clone()
    }

    /// The most requests it was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn answer_always(&self, status: u16) {
        self.shared.script.lock().unwrap().default = status;
    }

    pub fn delay(&self, delay: Duration) {
        self.shared.script.lock().unwrap().delay = delay;
    }

    pub fn token_requests(&self) -> Vec<Recorded> {
        self.shared.token_requests.lock().unwrap().clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived, answered or not (panics after `timeout`).
    pub async fn wait_for_arrivals(&self, n: usize, timeout: Duration) {
        eventually(timeout, async || {
            match self.shared.arrivals.load(std::sync::atomic::Ordering::SeqCst) {
                got if got >= n => Ok(()),
                got => Err(format!("expected {n} requests to arrive, got {got}")),
            }
        })
        .await
    }

    /// Waits until at least `n` requests arrived (panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        eventually(timeout, async || {
            let got = self.requests();
            match got.len() >= n {
                true => Ok(got),
                false => Err(format!("expected {n} requests, got {}", got.len())),
            }
        })
        .await
    }

    /// Stops listening: connections are refused until `restart`.
    pub async fn stop(&self) {
        let handle = self.handle.lock().unwrap().take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    pub async fn restart(&self) {
        let listener = listener_beside(&self.held);
        *self.handle.lock().unwrap() = Some(start(listener, self.shared.clone()));
    }
}

/// A minimal SMTP server (no TLS, no auth) that keeps every message it is given.
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let mut in_data = false;
                    let mut data = String::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                store.lock().unwrap().push(std::mem::take(&mut data));
                                write.write_all(b"250 queued\r\n").await.ok();
                            } else {
                                data.push_str(&line);
                                data.push('\n');
                            }
                            continue;
                        }
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("DATA") {
                            in_data = true;
                            b"354 go ahead\r\n"
                        } else if upper.starts_with("QUIT") {
                            write.write_all(b"221 bye\r\n").await.ok();
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        write.write_all(reply).await.ok();
                    }
                });
            }
        });
        Self { port, messages }
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        eventually(timeout, async || {
            let got = self.messages.lock().unwrap().clone();
            match got.len() >= n {
                true => Ok(got),
                false => Err(format!("expected {n} e-mails, got {}", got.len())),
            }
        })
        .await
    }
}
