//! Serves a snapshot directory until killed, to poke at with kubectl by hand:
//! `cargo run -p fake-apiserver --example serve -- tests/fixtures/healthy`, then
//! `KUBECONFIG=<printed path> kubectl get pods -A`.

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: serve SNAPSHOT_DIR [KUBECONFIG_OUT]");
    let out = std::env::args().nth(2).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("fake-apiserver.kubeconfig")
            .display()
            .to_string()
    });
    let server = fake_apiserver::FakeApi::new().load_dir(&dir).start();
    for w in server.load_warnings() {
        eprintln!("not served: {w}");
    }
    let path = server.kubeconfig_with_token(&out);
    println!(
        "serving {dir} at {}; KUBECONFIG={}",
        server.url(),
        path.display()
    );
    loop {
        std::thread::park();
    }
}
