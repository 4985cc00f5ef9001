//! `login_view`: the settings (with their data-loss witness), the recovery codes left and the
//! counters, in one script on a standalone server (`flow_view.lua`). On a Cluster the user's
//! slot answers the settings, the codes and the counters that live there, and each other slot
//! its counters, all sent at once: one round trip of latency.

use std::time::SystemTime;

use futures_util::future::join;
use mfa_store::{CounterKey, CounterState, LoginView, Result, StoreError};

use crate::RedisStore;
use crate::codec::{Fields, to_ms};
use crate::counter::{Grouping, decode as decode_state, groups};
use crate::scripts::FLOW_VIEW;
use crate::settings::{RECORD, decode as decode_settings};
use crate::slot::slot;
use crate::store::Op;

type Entries = Vec<Vec<Vec<u8>>>;

impl RedisStore {
    pub(crate) async fn flow_login_view(
        &self,
        user: &str,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<LoginView> {
        let user_slot = slot(self.keys.user(user).as_bytes());
        // On a Cluster the counters of other slots go in scripts of their own, one per slot; a
        // standalone server takes them all in the user's script.
        let apart: Vec<Option<u16>> = keys
            .iter()
            .map(|k| {
                let own = slot(self.keys.counter(k).as_bytes());
                (self.is_cluster() && own != user_slot).then_some(own)
            })
            .collect();
        let (mut here, mut elsewhere) = (Vec::new(), Vec::new());
        for group in groups(
            keys.len(),
            |i| apart.get(i).copied().flatten(),
            Grouping::BySlot,
        ) {
            if group
                .first()
                .is_some_and(|&i| apart.get(i).copied().flatten().is_some())
            {
                elsewhere.push(group);
            } else {
                here = group;
            }
        }

        let mut invocation = FLOW_VIEW.on(&self.keys, self.keys.settings(user));
        invocation.key(self.keys.recovery(user));
        for key in here.iter().filter_map(|&i| keys.get(i)) {
            self.push_counter(&mut invocation, key);
        }
        invocation.arg(to_ms(now));
        let mut others: Vec<_> = elsewhere
            .iter()
            .map(|members| self.read_invocation(keys, members))
            .collect();
        for other in &mut others {
            other.arg(to_ms(now));
        }
        let (mine, theirs) = join(
            self.eval::<(Vec<Vec<u8>>, u64, Entries)>(&invocation, Op::Read),
            self.eval_all::<Entries>(&others, Op::Read),
        )
        .await;
        let (settings, codes, entries) = mine?;

        let mut counters: Vec<Option<CounterState>> = vec![None; keys.len()];
        let mut place = |members: &[usize], entries: Entries| -> Result<()> {
            if entries.len() != members.len() {
                return Err(StoreError::corrupt("counter read reply length"));
            }
            for (&i, entry) in members.iter().zip(&entries) {
                if let Some(slot) = counters.get_mut(i) {
                    *slot = (!entry.is_empty())
                        .then(|| decode_state(entry))
                        .transpose()?;
                }
            }
            Ok(())
        };
        place(&here, entries)?;
        for (members, reply) in elsewhere.iter().zip(theirs) {
            place(members, reply?)?;
        }
        let fields = Fields::from_flat(RECORD, settings)?;
        Ok(LoginView {
            settings: if fields.is_empty() {
                None
            } else {
                Some(decode_settings(user, &fields)?)
            },
            recovery_codes_left: usize::try_from(codes)
                .map_err(|_| StoreError::corrupt("recovery code count"))?,
            counters,
        })
    }
}
