//! What the checks compare with: the policy, clients, codes read from messages and
//! authenticators, and the leak test.

use super::*;

/// Whether to print each action and answer to stderr (`FACADE_TRACE=1`, to read a crash).
pub(crate) fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FACADE_TRACE").is_some())
}

pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

pub(crate) fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("not zero")
}

pub(crate) fn policy() -> Policy {
    let hour = Duration::from_secs(3600);
    let lock = FailureRule::new(nz(3), hour, Lockout::Fixed(hour)).expect("a valid rule");
    let rules = FactorRules::new(nz(CAP))
        .expect("a valid cap")
        .with(Counter::AccountLock, Some(lock));
    Policy::authenticator_setup()
        .to_builder()
        .second_factor(rules)
        .challenge_attempts(nz(TRIES))
        .build()
        .expect("a valid policy")
}

pub(crate) fn client(net: &Net) -> ClientInfo {
    let ip = match net {
        Net::Usual => IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
        Net::Stranger(n) => IpAddr::V4(Ipv4Addr::new(203, 0, 113, *n)),
        Net::V4(b) => IpAddr::V4(Ipv4Addr::from(*b)),
        Net::V6(b) => IpAddr::V6(Ipv6Addr::from(*b)),
    };
    ClientInfo::new(ip)
}

/// The first standalone run of `digits` digits in `text`.
pub(crate) fn code_in(text: &str, digits: usize) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == digits)
        .map(str::to_owned)
}

/// The token after `token=` in `text`.
pub(crate) fn token_in(text: &str) -> Option<String> {
    let start = text.find("token=")? + "token=".len();
    let token: String = text
        .get(start..)?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(token)
}

pub(crate) fn totp_code(secret: &str, unix: u64) -> Option<String> {
    let secret = Secret::from_base32(secret).ok()?;
    let totp = Totp::new(
        &secret,
        TotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            ..TotpParams::default()
        },
    );
    Some(totp.generate_at(unix).ok()?.expose().to_string())
}

/// Whether `guess` reads as one of `codes` (the facade's own normalisation): a lucky guess,
/// which may verify.
pub(crate) fn same_code<'a>(guess: &str, codes: impl IntoIterator<Item = &'a String>) -> bool {
    let Ok(typed) = Code::parse(guess, Digits::SIX) else {
        return false;
    };
    let typed = typed.expose();
    codes.into_iter().any(|c| c.as_str() == typed.as_str())
}

pub(crate) fn same_recovery<'a>(guess: &str, codes: impl IntoIterator<Item = &'a String>) -> bool {
    let Ok(typed) = RecoveryCode::parse(guess) else {
        return false;
    };
    let typed = typed.expose();
    codes.into_iter().any(|c| {
        RecoveryCode::parse(c).is_ok_and(|known| known.expose().as_str() == typed.as_str())
    })
}

/// Whether a secret shows in `debug`: numeric codes as a whole run of digits (a timestamp may
/// contain any six digits), everything else as a substring.
pub(crate) fn leaks(debug: &str, secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    if secret.bytes().all(|b| b.is_ascii_digit()) {
        return debug
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run == secret);
    }
    debug.contains(secret)
}
