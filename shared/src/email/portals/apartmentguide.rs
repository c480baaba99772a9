//! Apartment Guide and Rent.com (Redfin's Rent Group): guest cards with labelled fields and
//! reply relays at message.my.apartmentguide.com and email.rent.com.

use super::generic::generic;
use super::{Evidence, Portal};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Apartment Guide",
    domains: &["apartmentguide.com", "rent.com"],
    subjects: &["apartment guide", "apartmentguide", "rent.com"],
    phrases: &["apartment guide"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, true);
    let rent_com = r
        .message
        .from
        .iter()
        .chain(&r.message.reply_to)
        .any(|m| super::on_domain(&m.address, "rent.com"))
        || r.message.subject.to_lowercase().contains("rent.com");
    if rent_com && raw.lead_source.is_none() {
        raw.lead_source = Some("Rent.com".into());
    }
    raw
}
