//! Debian VMs on the monitor's virtual subnet: ICMP and TCP between them
//! through their virtio network interfaces.

mod common;
use common::{run, stderr, stdout};

#[test]
fn vms_ping_each_other_and_move_data_over_tcp() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/subnet.toml");
    let o = run(&["up", example.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("[client] 2 packets transmitted, 2 packets received, 0% packet loss"),
        "{out}"
    );
    assert!(out.contains("[client] sent"), "{out}");
    assert!(out.contains("[server] 262144"), "all bytes arrived: {out}");
}

#[test]
fn a_bad_net_setting_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("net.toml");
    std::fs::write(&file, "[[vm]]\nnet = \"yes\"\n").unwrap();
    let o = run(&["up", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid type"), "{}", stderr(&o));
}
