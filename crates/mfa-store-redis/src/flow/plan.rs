//! An attempt plan as a challenge hash stores it: the plan itself (`plan`, read back by
//! `AttemptPlan::decode`), and for the attempt script its tag (`ptag`) and its two lists of
//! takes (`ptr`, `ptu`) as the names of each counter and of its slot's data-loss marker, with
//! the window in milliseconds and the limit. The names are built here, from the key schema,
//! when the challenge is stored: the script never builds a key.

use mfa_store::{AttemptPlan, Take};

use crate::RedisStore;
use crate::codec::push_part;

impl RedisStore {
    /// The fields `plan`, `ptag` (only when the plan has a tag), `ptr` and `ptu`.
    pub(crate) fn plan_fields(&self, plan: &AttemptPlan) -> Vec<(&'static str, String)> {
        let mut fields = vec![("plan", plan.encode())];
        if let Some(tag) = &plan.tag {
            fields.push(("ptag", tag.clone()));
        }
        fields.push(("ptr", self.stored_takes(&plan.recognised)));
        fields.push(("ptu", self.stored_takes(&plan.unrecognised)));
        fields
    }

    /// `<marker><counter><window ms><limit>` per take, each part length-prefixed (`plan_takes`
    /// in Lua reads it). The window is truncated to whole milliseconds as
    /// `AttemptPlan::encode` truncates it, so the script's window ends are those of the plan
    /// read back.
    fn stored_takes(&self, takes: &[Take]) -> String {
        let mut out = String::new();
        for take in takes {
            let counter = self.keys.counter(&take.key);
            push_part(&mut out, &self.keys.marker_for(&counter));
            push_part(&mut out, &counter);
            let window = u64::try_from(take.window.as_millis()).unwrap_or(u64::MAX);
            push_part(&mut out, &window.to_string());
            push_part(&mut out, &take.limit.to_string());
        }
        out
    }
}
