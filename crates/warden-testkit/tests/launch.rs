//! The launchers start servers that answer, and stop them.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use warden_testkit::{HaProxy, Postgres, Redis};

fn ping(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn redis_answers_stops_and_comes_back_on_its_port() {
    let Some(mut redis) = Redis::start("redis_answers_stops_and_comes_back_on_its_port") else {
        return;
    };
    assert_eq!(ping(redis.port()).expect("ping"), "+PONG\r\n");
    redis.stop();
    assert!(ping(redis.port()).is_err(), "a stopped redis answered");
    redis.restart();
    assert_eq!(ping(redis.port()).expect("ping"), "+PONG\r\n");
}

#[test]
fn postgres_runs_sql_with_a_password_and_keeps_its_data_across_a_restart() {
    let Some(mut pg) =
        Postgres::start("postgres_runs_sql_with_a_password_and_keeps_its_data_across_a_restart")
    else {
        return;
    };
    pg.create_database("t");
    pg.psql("t", "CREATE TABLE x (n int); INSERT INTO x VALUES (42)");
    assert!(pg.psql("t", "SHOW server_version").starts_with("15."));
    pg.restart();
    assert_eq!(pg.psql("t", "SELECT n FROM x").trim(), "42");
}

#[test]
fn haproxy_spreads_requests_round_robin() {
    // Two one-line HTTP servers that say who they are.
    let mut backends = Vec::new();
    let mut threads = Vec::new();
    for name in ["a", "b"] {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        backends.push(listener.local_addr().expect("addr"));
        threads.push(std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let body = name;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        }));
    }
    let Some(proxy) = HaProxy::start("haproxy_spreads_requests_round_robin", &backends, "") else {
        return;
    };
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(get(proxy.addr()));
    }
    seen.sort();
    assert_eq!(seen, ["a", "a", "b", "b"]);
    for thread in threads {
        thread.join().expect("backend");
    }
}

fn get(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_owned()
}
