//! Known answers from the RFCs, through the built `mfa` binary.

mod common;

use common::{mfa, mfa_ok};

/// "1234567890" repeated and cut to `len` bytes, as hex: the RFC 6238 seeds.
fn seed_hex(len: usize) -> String {
    b"1234567890"
        .iter()
        .cycle()
        .take(len)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RFC 6238 Appendix B: (time, expected code, algorithm, seed length in bytes).
const RFC6238: [(u64, &str, &str, usize); 18] = [
    (59, "94287082", "sha1", 20),
    (59, "46119246", "sha256", 32),
    (59, "90693936", "sha512", 64),
    (1_111_111_109, "07081804", "sha1", 20),
    (1_111_111_109, "68084774", "sha256", 32),
    (1_111_111_109, "25091201", "sha512", 64),
    (1_111_111_111, "14050471", "sha1", 20),
    (1_111_111_111, "67062674", "sha256", 32),
    (1_111_111_111, "99943326", "sha512", 64),
    (1_234_567_890, "89005924", "sha1", 20),
    (1_234_567_890, "91819424", "sha256", 32),
    (1_234_567_890, "93441116", "sha512", 64),
    (2_000_000_000, "69279037", "sha1", 20),
    (2_000_000_000, "90698825", "sha256", 32),
    (2_000_000_000, "38618901", "sha512", 64),
    (20_000_000_000, "65353130", "sha1", 20),
    (20_000_000_000, "77737706", "sha256", 32),
    (20_000_000_000, "47863826", "sha512", 64),
];

/// RFC 4226 Appendix D: HOTP codes for counters 0 to 9 of the key "12345678901234567890".
const RFC4226: [&str; 10] = [
    "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
    "520489",
];

#[test]
fn totp_prints_every_rfc6238_appendix_b_code() {
    for (time, expected, algorithm, seed_len) in RFC6238 {
        let key = seed_hex(seed_len);
        let time = time.to_string();
        let args = [
            "totp",
            &key,
            "--hex",
            "--algorithm",
            algorithm,
            "--digits",
            "8",
            "--time",
            &time,
        ];
        assert_eq!(mfa_ok(&args), expected, "{algorithm} at T = {time}");
    }
}

#[test]
fn verify_accepts_every_rfc6238_code_at_step_t_div_30() {
    for (time, code, algorithm, seed_len) in RFC6238 {
        let key = seed_hex(seed_len);
        let unix = time.to_string();
        let args = [
            "verify", &key, code, "--hex", "-a", algorithm, "-d", "8", "--time", &unix, "--skew",
            "0",
        ];
        assert_eq!(
            mfa_ok(&args),
            (time / 30).to_string(),
            "{algorithm} T = {time}"
        );
    }
}

#[test]
fn hotp_prints_every_rfc4226_appendix_d_code() {
    let key = seed_hex(20);
    for (counter, expected) in RFC4226.iter().enumerate() {
        let counter = counter.to_string();
        assert_eq!(
            mfa_ok(&["hotp", &key, "--hex", "--counter", &counter]),
            *expected,
            "counter {counter}"
        );
    }
}

#[test]
fn hotp_verify_finds_rfc4226_codes_and_prints_the_next_counter() {
    let key = seed_hex(20);
    for (counter, code) in RFC4226.iter().enumerate() {
        let from = counter.saturating_sub(2).to_string();
        let args = [
            "verify",
            &key,
            code,
            "--hex",
            "--hotp",
            "--counter",
            &from,
            "--look-ahead",
            "3",
        ];
        assert_eq!(
            mfa_ok(&args),
            (counter + 1).to_string(),
            "counter {counter}"
        );
    }
    // Counter 7's code is outside 0 ..= 5.
    let run = mfa(&[
        "verify",
        &key,
        RFC4226[7],
        "--hex",
        "--hotp",
        "--counter",
        "0",
        "--look-ahead",
        "5",
    ]);
    assert_eq!(run.status, 2, "{run:?}");
    assert_eq!(run.stdout, "");
}

#[test]
fn the_top_level_readme_example_prints_94287082() {
    let args = [
        "totp",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "--time",
        "59",
        "--digits",
        "8",
    ];
    assert_eq!(mfa_ok(&args), "94287082");
}

#[test]
fn a_key_read_from_standard_input_gives_the_same_code() {
    let run = common::mfa_with_stdin(
        &["totp", "-", "--time", "59", "--digits", "8"],
        "gezdgnbv gy3tqojq gezdgnbv gy3tqojq\n",
    );
    assert_eq!(
        (run.status, run.stdout.as_str()),
        (0, "94287082\n"),
        "{run:?}"
    );
}

#[test]
fn a_key_read_from_a_file_gives_the_same_code() {
    let dir = tempfile::tempdir().unwrap();
    // CRLF, as a key file saved on Windows has it; a second line is never read.
    let path = dir.path().join("key");
    std::fs::write(&path, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\r\nnot a key\n").unwrap();
    let key = format!("@{}", path.display());
    assert_eq!(
        mfa_ok(&["totp", &key, "--time", "59", "--digits", "8"]),
        "94287082"
    );
    assert_eq!(
        mfa_ok(&["verify", &key, "94287082", "-d", "8", "-t", "59"]),
        "1"
    );
}
