//! Prints, one per line, what serde_json writes for the messages of the Python test models
//! (tests/test_serde_json.py), with serde's default (externally tagged) enum form; then parses
//! each line of its standard input as such a message (and panics on one it cannot read), to
//! check what the Python side writes with `Textual(serde_json=True)`.
//!
//!     cargo run -q < /dev/null                                     # the recorded bytes
//!     python -c '...encode_batch(MESSAGES)...' | cargo run -q      # the other way
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Color { RED, GREEN, BLUE }

#[derive(Serialize, Deserialize, Debug)]
struct Point { x: i64, y: i64 }

#[derive(Serialize, Deserialize, Debug)]
enum Message {
    Quit,
    Ping { n: u32 },
    Move { player: u8, x: f64, y: f32, color: Color, hit: bool },
    Blob { name: String, data: Vec<u8>, maybe: Option<i64>, tags: Vec<String>, at: Point },
    Counts { by_color: BTreeMap<Color, u8> },
}

fn main() {
    let messages = vec![
        Message::Quit,
        Message::Ping { n: 7 },
        Message::Move { player: 3, x: 1.5, y: -0.25, color: Color::GREEN, hit: true },
        Message::Blob {
            name: "ann".into(), data: vec![0, 1, 255], maybe: None,
            tags: vec!["a".into(), "é".into()], at: Point { x: -1, y: 2 },
        },
        Message::Blob {
            name: "".into(), data: vec![], maybe: Some(-5), tags: vec![], at: Point { x: 0, y: 0 },
        },
        Message::Counts { by_color: BTreeMap::from([(Color::RED, 1), (Color::BLUE, 3)]) },
    ];
    for message in &messages {
        println!("{}", serde_json::to_string(message).unwrap());
    }
    for line in std::io::stdin().lines() {
        let line = line.unwrap();
        let parsed: Message = serde_json::from_str(&line).unwrap();
        eprintln!("{:?}", parsed);
    }
}
