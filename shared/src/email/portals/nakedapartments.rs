//! Naked Apartments (Zillow Group, NYC rentals): "Name has sent you a message:" then the
//! message, a reply relay at app.nakedapartments.com, "Listing:" with the address, and the
//! renter's labelled details (name, email, phone, max rent, move date).

use super::generic::generic;
use super::{Evidence, Portal, lines_between, put_street, street_of};
use crate::email::read::Reading;
use crate::normalize::RawLead;

pub const PORTAL: Portal = Portal {
    source: "Naked Apartments",
    domains: &["nakedapartments.com"],
    subjects: &["naked apartments"],
    phrases: &["naked apartments", "nakedapartments.com"],
};

pub fn recognize(r: &Reading) -> Option<Evidence> {
    PORTAL.evidence(r)
}

pub fn parse(r: &Reading) -> RawLead {
    let mut raw = generic(r, true);
    let lines = r.lines();
    if let Some(listing) = lines_between(&lines, |l| l == "Listing:", |_| false)
        .and_then(|after| after.into_iter().find(|l| !l.is_empty()))
    {
        put_street(&mut raw, street_of(listing));
    }
    raw
}
