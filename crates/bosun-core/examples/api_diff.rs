//! The crate-level API comparison on two unpacked crates (e.g. from crates.io):
//! `cargo run -p bosun-core --example api_diff -- OLD_DIR NEW_DIR` prints one line per break
//! (`break KIND PATH: message`) and per addition (`added PATH`); with `--paths` after the
//! directories, also every public path on either side (`path PATH`).

use bosun_core::semantic::api::{compare, rust};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = args.iter().any(|a| a == "--paths");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--paths").collect();
    let [old, new] = args.as_slice() else {
        eprintln!("usage: api_diff OLD_DIR NEW_DIR");
        std::process::exit(2);
    };
    let read_in = |dir: &str| {
        let dir = dir.to_string();
        move |p: &str| std::fs::read_to_string(format!("{dir}/{p}")).ok()
    };
    let krate = rust::Crate { dir: String::new() };
    let (Some(a), Some(b)) = (
        rust::surface(&krate, &read_in(old)),
        rust::surface(&krate, &read_in(new)),
    ) else {
        eprintln!("error: both directories must hold a library crate");
        std::process::exit(1);
    };
    let (breaks, additions) = compare(&a.surface, &b.surface);
    for x in &breaks {
        println!("break {:?} {}: {}", x.kind, x.path, x.message);
    }
    for x in &additions {
        println!("added {}", x.path);
    }
    if paths {
        let all: std::collections::BTreeSet<&String> = a
            .surface
            .items
            .keys()
            .chain(b.surface.items.keys())
            .collect();
        for p in all {
            println!("path {p}");
        }
    }
    eprintln!(
        "{} public paths before, {} after; {} breaks, {} additions",
        a.surface.items.len(),
        b.surface.items.len(),
        breaks.len(),
        additions.len()
    );
}
