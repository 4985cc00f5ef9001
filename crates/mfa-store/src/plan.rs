//! [`AttemptPlan`]: how the attempts on a ticket are charged, decided once when the ticket is
//! made and carried out by the store in the same step as the try it spends.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{CounterKey, Result, StoreError, Take};

/// The budgets each attempt on a challenge takes a unit from, decided by the caller when the
/// challenge is made: one list for an attempt from the context the challenge was made in
/// (`tag`, when that context was recognised), another for every other attempt.
///
/// [`FlowStore::attempt`](crate::FlowStore::attempt) spends a try and takes the chosen list in
/// one step, so an attempt costs one round trip whatever its budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPlan {
    /// The context tag (a client network) that earns `recognised`; `None`: always
    /// `unrecognised`.
    pub tag: Option<String>,
    /// The takes of an attempt whose tag equals `tag`.
    pub recognised: Vec<Take>,
    /// The takes of any other attempt.
    pub unrecognised: Vec<Take>,
}

impl AttemptPlan {
    /// The takes for an attempt from `tag`.
    #[must_use]
    pub fn takes_for(&self, tag: Option<&str>) -> (bool, &[Take]) {
        match (&self.tag, tag) {
            (Some(mine), Some(theirs)) if mine == theirs => (true, &self.recognised),
            _ => (false, &self.unrecognised),
        }
    }

    /// The plan as one line of text a backend stores in a column or a hash field: every part
    /// length-prefixed, so no key can be mistaken for another (the inverse of [`decode`]).
    ///
    /// [`decode`]: Self::decode
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::from("p1;");
        match &self.tag {
            Some(tag) => part(&mut out, tag),
            None => out.push('-'),
        }
        for list in [&self.recognised, &self.unrecognised] {
            let _ = write!(out, ";{}", list.len());
            for take in list {
                let window = u64::try_from(take.window.as_millis()).unwrap_or(u64::MAX);
                let _ = write!(out, ";{window},{},", take.limit);
                part(&mut out, &take.key.storage_key());
            }
        }
        out
    }

    /// The plan [`encode`](Self::encode) wrote.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for anything else.
    pub fn decode(text: &str) -> Result<Self> {
        let corrupt = || StoreError::corrupt("attempt plan");
        let mut r = Reader(text.strip_prefix("p1;").ok_or_else(corrupt)?);
        let tag = if r.eat("-") {
            None
        } else {
            Some(r.part().ok_or_else(corrupt)?)
        };
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            r.expect(';').ok_or_else(corrupt)?;
            let count = r.number().ok_or_else(corrupt)?;
            for _ in 0..count {
                r.expect(';').ok_or_else(corrupt)?;
                let window = r.number().ok_or_else(corrupt)?;
                r.expect(',').ok_or_else(corrupt)?;
                let limit = r.number().ok_or_else(corrupt)?;
                r.expect(',').ok_or_else(corrupt)?;
                let key = CounterKey::from_storage_key(&r.part().ok_or_else(corrupt)?)?;
                let limit = u32::try_from(limit).map_err(|_| corrupt())?;
                list.push(Take::new(key, Duration::from_millis(window), limit));
            }
        }
        if !r.0.is_empty() {
            return Err(corrupt());
        }
        let [recognised, unrecognised] = lists;
        Ok(Self {
            tag,
            recognised,
            unrecognised,
        })
    }
}

fn part(out: &mut String, text: &str) {
    let _ = write!(out, "{}:{text}", text.len());
}

struct Reader<'a>(&'a str);

impl Reader<'_> {
    fn eat(&mut self, token: &str) -> bool {
        match self.0.strip_prefix(token) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.0 = self.0.strip_prefix(c)?;
        Some(())
    }

    fn number(&mut self) -> Option<u64> {
        let end = self
            .0
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.0.len());
        let (digits, rest) = self.0.split_at_checked(end)?;
        let n = digits.parse().ok()?;
        self.0 = rest;
        Some(n)
    }

    fn part(&mut self) -> Option<String> {
        let len = usize::try_from(self.number()?).ok()?;
        self.expect(':')?;
        let (text, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CounterScope;

    fn take(ns: &str, scope: CounterScope, limit: u32) -> Take {
        Take::new(CounterKey::new(ns, scope), Duration::from_secs(900), limit)
    }

    #[test]
    fn plans_round_trip_and_choose_by_tag() {
        let plan = AttemptPlan {
            tag: Some("198.51.100.7/32".into()),
            recognised: vec![take(
                "mfa.recognised",
                CounterScope::AccountClient {
                    account: "a;b,c:1".into(),
                    client: "net:198.51.100.7/32".into(),
                },
                10,
            )],
            unrecognised: vec![
                take("mfa.client", CounterScope::Client("x".into()), 50),
                take(
                    "mfa.consecutive",
                    CounterScope::Account("a;b,c:1".into()),
                    90,
                ),
            ],
        };
        let text = plan.encode();
        assert_eq!(AttemptPlan::decode(&text).unwrap(), plan);
        assert!(plan.takes_for(Some("198.51.100.7/32")).0);
        assert_eq!(plan.takes_for(Some("203.0.113.1/32")).1.len(), 2);
        assert!(!plan.takes_for(None).0);
        let none = AttemptPlan {
            tag: None,
            recognised: Vec::new(),
            unrecognised: Vec::new(),
        };
        assert_eq!(AttemptPlan::decode(&none.encode()).unwrap(), none);
        assert!(!none.takes_for(None).0);
    }

    #[test]
    fn garbage_is_corrupt_never_a_panic() {
        for bad in [
            "",
            "p1",
            "p1;",
            "p1;-",
            "p1;-;1",
            "p1;-;0;0x",
            "p2;-;0;0",
            "p1;99:x;0;0",
        ] {
            assert!(AttemptPlan::decode(bad).is_err(), "{bad:?}");
        }
        for cut in 0..40 {
            let full = "p1;3:abc;1;900000,5,3:mfaa1:u;0";
            let _ = AttemptPlan::decode(full.get(..cut).unwrap_or(full));
        }
    }
}
