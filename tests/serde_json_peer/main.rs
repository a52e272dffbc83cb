//! Prints, one per line, what serde_json writes for the messages of the Python test models
//! (tests/test_serde_json.py), with serde's default (externally tagged) enum form.
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
enum Color { RED, GREEN, BLUE }

#[derive(Serialize, Deserialize, Debug)]
struct Point { x: i64, y: i64 }

#[derive(Serialize, Deserialize, Debug)]
enum Message {
    Quit,
    Ping { n: u32 },
    Move { player: u8, x: f64, y: f32, color: Color, hit: bool },
    Blob { name: String, data: Vec<u8>, maybe: Option<i64>, tags: Vec<String>, at: Point },
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
