//! The lead model: Rechat's own payloads (`../shared/rechat/CONTRACT.md` §1–4), field for
//! field, so that what Inlet queues is what Rechat receives.
//!
//! Every field is optional, as in Rechat. Serialization leaves out what is empty (absent,
//! never `null` or `""`), because Rechat reads a present-but-empty field as a value.

use serde::{Deserialize, Serialize};

/// True when an optional string carries nothing worth sending.
pub(crate) fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn none_or_empty<T: IsEmpty>(value: &Option<T>) -> bool {
    value.as_ref().is_none_or(IsEmpty::is_empty)
}

/// A payload object that may be present yet hold nothing.
pub trait IsEmpty {
    fn is_empty(&self) -> bool;
}

/// The capture payload of `POST /leads/channels/{lead_channel}/webhook`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    #[serde(default, skip_serializing_if = "blank")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub email: Option<String>,
    /// E.164 when Inlet could parse it (`+12145550123`).
    #[serde(default, skip_serializing_if = "blank")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub referer_url: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub listing: Option<Listing>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<Assignee>,
    /// Older spelling some Rechat versions required (`Website`, …).
    #[serde(default, skip_serializing_if = "blank")]
    pub source_type: Option<String>,
    /// Older flat spellings of listing and agent data; Inlet maps them onto `listing` and
    /// `assignees` when it reads them, and keeps them here only if a sender insists.
    #[serde(default, skip_serializing_if = "blank")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub mlsid: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub agent_mlsid: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub listing_id: Option<String>,
}

impl Lead {
    /// The name Inlet shows for this lead in places where a full name reads best.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// The property a lead asked about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "blank")]
    pub mls_number: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub cover_image_url: Option<String>,
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub property: Option<Property>,
}

impl IsEmpty for Listing {
    fn is_empty(&self) -> bool {
        self.price.is_none()
            && blank(&self.mls_number)
            && blank(&self.cover_image_url)
            && none_or_empty(&self.property)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Property {
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub address: Option<Address>,
}

impl IsEmpty for Property {
    fn is_empty(&self) -> bool {
        none_or_empty(&self.address)
    }
}

/// Rechat's address: atomic parts, or `street_address` / `full_address` alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "blank")]
    pub street_number: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub street_dir_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub street_name: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub street_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub street_dir_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub unit_number: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub state_code: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub direction: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub full_address: Option<String>,
}

impl IsEmpty for Address {
    fn is_empty(&self) -> bool {
        [
            &self.street_number,
            &self.street_dir_prefix,
            &self.street_name,
            &self.street_suffix,
            &self.street_dir_suffix,
            &self.unit_number,
            &self.city,
            &self.state_code,
            &self.postal_code,
            &self.country,
            &self.direction,
            &self.street_address,
            &self.full_address,
        ]
        .into_iter()
        .all(blank)
    }
}

/// An agent the lead must reach. Rechat matches email, then phone, then MLS id, then name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    #[serde(default, skip_serializing_if = "blank")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub last_name: Option<String>,
    /// The MLS board (`NTREIS`).
    #[serde(default, skip_serializing_if = "blank")]
    pub mls: Option<String>,
    /// The agent's id at that board. The SDK's `mlsid` spelling is read, `mls_id` is sent.
    #[serde(default, alias = "mlsid", skip_serializing_if = "blank")]
    pub mls_id: Option<String>,
}

impl IsEmpty for Assignee {
    fn is_empty(&self) -> bool {
        [
            &self.email,
            &self.phone_number,
            &self.first_name,
            &self.last_name,
            &self.mls,
            &self.mls_id,
        ]
        .into_iter()
        .all(blank)
    }
}

/// The ten timeline actions of `POST /leads/{lead_id}/timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    ContactViewedListing,
    ContactSharedListing,
    ContactFavoritedListing,
    ContactRemovedFavoriteListing,
    ContactValuedListing,
    ContactCreatedSearch,
    ContactRemovedSearch,
    ContactSearchedListings,
    ContactSignedUp,
    ContactLoggedIn,
}

/// Which extra object an action carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionObject {
    Listing,
    Search,
    None,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::ContactViewedListing,
        Action::ContactSharedListing,
        Action::ContactFavoritedListing,
        Action::ContactRemovedFavoriteListing,
        Action::ContactValuedListing,
        Action::ContactCreatedSearch,
        Action::ContactRemovedSearch,
        Action::ContactSearchedListings,
        Action::ContactSignedUp,
        Action::ContactLoggedIn,
    ];

    pub fn object(self) -> ActionObject {
        use Action::*;
        match self {
            ContactViewedListing
            | ContactSharedListing
            | ContactFavoritedListing
            | ContactRemovedFavoriteListing
            | ContactValuedListing => ActionObject::Listing,
            ContactCreatedSearch | ContactRemovedSearch | ContactSearchedListings => {
                ActionObject::Search
            }
            ContactSignedUp | ContactLoggedIn => ActionObject::None,
        }
    }

    pub fn name(self) -> &'static str {
        use Action::*;
        match self {
            ContactViewedListing => "ContactViewedListing",
            ContactSharedListing => "ContactSharedListing",
            ContactFavoritedListing => "ContactFavoritedListing",
            ContactRemovedFavoriteListing => "ContactRemovedFavoriteListing",
            ContactValuedListing => "ContactValuedListing",
            ContactCreatedSearch => "ContactCreatedSearch",
            ContactRemovedSearch => "ContactRemovedSearch",
            ContactSearchedListings => "ContactSearchedListings",
            ContactSignedUp => "ContactSignedUp",
            ContactLoggedIn => "ContactLoggedIn",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// The body of `POST /leads/{lead_id}/timeline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub action: Action,
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub listing: Option<ActivityListing>,
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub search: Option<Search>,
    #[serde(default, skip_serializing_if = "blank")]
    pub notes: Option<String>,
}

/// Why an activity cannot be sent as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivityError {
    #[error("{action} needs a `listing` object")]
    MissingListing { action: &'static str },
    #[error("{action} needs a `search` object")]
    MissingSearch { action: &'static str },
}

impl Activity {
    /// Builds an activity, attaching only the object its action carries (as Rechat's demo
    /// does), and refusing one whose action needs an object it lacks.
    pub fn new(
        action: Action,
        listing: Option<ActivityListing>,
        search: Option<Search>,
        notes: Option<String>,
    ) -> Result<Self, ActivityError> {
        let listing = listing.filter(|l| !l.is_empty());
        let search = search.filter(|s| !s.is_empty());
        let (listing, search) = match action.object() {
            ActionObject::Listing => match listing {
                Some(l) => (Some(l), None),
                None => {
                    return Err(ActivityError::MissingListing {
                        action: action.name(),
                    });
                }
            },
            ActionObject::Search => match search {
                Some(s) => (None, Some(s)),
                None => {
                    return Err(ActivityError::MissingSearch {
                        action: action.name(),
                    });
                }
            },
            ActionObject::None => (None, None),
        };
        Ok(Activity {
            action,
            listing,
            search,
            notes: notes.filter(|n| !n.trim().is_empty()),
        })
    }
}

/// The listing object of a timeline activity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityListing {
    #[serde(default, skip_serializing_if = "blank")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub mls_number: Option<String>,
    /// The MLS board code (`nneren`).
    #[serde(default, skip_serializing_if = "blank")]
    pub mls: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub cover_image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub property: Option<ActivityProperty>,
}

impl IsEmpty for ActivityListing {
    fn is_empty(&self) -> bool {
        blank(&self.url)
            && blank(&self.mls_number)
            && blank(&self.mls)
            && blank(&self.cover_image_url)
            && self.price.is_none()
            && none_or_empty(&self.property)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityProperty {
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub address: Option<StreetAddress>,
}

impl IsEmpty for ActivityProperty {
    fn is_empty(&self) -> bool {
        none_or_empty(&self.address)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreetAddress {
    #[serde(default, skip_serializing_if = "blank")]
    pub street_address: Option<String>,
}

impl IsEmpty for StreetAddress {
    fn is_empty(&self) -> bool {
        blank(&self.street_address)
    }
}

/// The search object of a timeline activity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Search {
    #[serde(default, skip_serializing_if = "blank")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_bedrooms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_bedrooms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_bathrooms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_bathrooms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub property_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<bool>,
}

impl IsEmpty for Search {
    fn is_empty(&self) -> bool {
        blank(&self.url)
            && blank(&self.title)
            && [
                self.minimum_bedrooms,
                self.maximum_bedrooms,
                self.minimum_bathrooms,
                self.maximum_bathrooms,
                self.minimum_price,
                self.maximum_price,
            ]
            .iter()
            .all(Option::is_none)
            && self.property_types.is_empty()
            && self.pool.is_none()
    }
}

/// The body of `PUT /leads/{lead_id}/assignees`: it replaces the lead's assignees.
pub type Reassignment = Vec<Assignee>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_fields_are_absent_not_null() {
        let lead = Lead {
            first_name: Some("Ana".into()),
            last_name: Some("  ".into()),
            email: None,
            listing: Some(Listing {
                property: Some(Property {
                    address: Some(Address::default()),
                }),
                ..Listing::default()
            }),
            ..Lead::default()
        };
        assert_eq!(
            serde_json::to_value(&lead).unwrap(),
            json!({"first_name": "Ana"})
        );
    }

    #[test]
    fn full_capture_payload_uses_rechat_names() {
        let lead = Lead {
            first_name: Some("Ana".into()),
            last_name: Some("Silva".into()),
            email: Some("ana@example.com".into()),
            phone_number: Some("+12145550123".into()),
            tag: vec!["Buyer".into()],
            lead_source: Some("Zillow".into()),
            note: Some("Tour Saturday?".into()),
            referer_url: Some("https://example.com/l/1".into()),
            listing: Some(Listing {
                price: Some(450000.0),
                mls_number: Some("MLS123".into()),
                cover_image_url: Some("https://example.com/p.jpg".into()),
                property: Some(Property {
                    address: Some(Address {
                        street_number: Some("12".into()),
                        street_name: Some("Elm".into()),
                        street_suffix: Some("St".into()),
                        unit_number: Some("4B".into()),
                        city: Some("Dallas".into()),
                        state_code: Some("TX".into()),
                        postal_code: Some("75201".into()),
                        full_address: Some("12 Elm St 4B, Dallas, TX 75201".into()),
                        ..Address::default()
                    }),
                }),
            }),
            assignees: vec![Assignee {
                email: Some("agent@example.com".into()),
                mls: Some("NTREIS".into()),
                mls_id: Some("12345678".into()),
                ..Assignee::default()
            }],
            ..Lead::default()
        };
        let v = serde_json::to_value(&lead).unwrap();
        assert_eq!(v["phone_number"], "+12145550123");
        assert_eq!(v["tag"], json!(["Buyer"]));
        assert_eq!(v["listing"]["price"], json!(450000.0));
        assert_eq!(
            v["listing"]["property"]["address"]["state_code"],
            json!("TX")
        );
        assert_eq!(v["assignees"][0]["mls_id"], "12345678");
        assert!(v.get("source_type").is_none());
        let back: Lead = serde_json::from_value(v).unwrap();
        assert_eq!(back, lead);
    }

    #[test]
    fn assignee_reads_the_sdk_spelling_and_sends_the_api_one() {
        let a: Assignee = serde_json::from_value(json!({"mlsid": "99"})).unwrap();
        assert_eq!(serde_json::to_value(&a).unwrap(), json!({"mls_id": "99"}));
        assert!(Assignee::default().is_empty());
    }

    #[test]
    fn every_action_round_trips_and_carries_its_object() {
        let listing = ActivityListing {
            url: Some("https://example.com/l/1".into()),
            mls: Some("nneren".into()),
            property: Some(ActivityProperty {
                address: Some(StreetAddress {
                    street_address: Some("12 Elm St".into()),
                }),
            }),
            ..ActivityListing::default()
        };
        let search = Search {
            title: Some("Dallas condos".into()),
            property_types: vec!["Condo".into()],
            pool: Some(true),
            ..Search::default()
        };
        for action in Action::ALL {
            let a =
                Activity::new(action, Some(listing.clone()), Some(search.clone()), None).unwrap();
            let v = serde_json::to_value(&a).unwrap();
            assert_eq!(v["action"], action.name());
            assert_eq!(Action::from_name(action.name()), Some(action));
            match action.object() {
                ActionObject::Listing => {
                    assert_eq!(
                        v["listing"]["property"]["address"]["street_address"],
                        "12 Elm St"
                    );
                    assert!(v.get("search").is_none());
                }
                ActionObject::Search => {
                    assert_eq!(v["search"]["pool"], true);
                    assert!(v.get("listing").is_none());
                }
                ActionObject::None => {
                    assert!(v.get("listing").is_none() && v.get("search").is_none())
                }
            }
        }
    }

    #[test]
    fn an_action_without_its_object_is_refused() {
        assert_eq!(
            Activity::new(Action::ContactViewedListing, None, None, None),
            Err(ActivityError::MissingListing {
                action: "ContactViewedListing"
            })
        );
        assert!(
            Activity::new(
                Action::ContactSearchedListings,
                None,
                Some(Search::default()),
                None
            )
            .is_err()
        );
        assert!(Activity::new(Action::ContactSignedUp, None, None, Some("hi".into())).is_ok());
        assert!(serde_json::from_value::<Activity>(json!({"action": "ContactDanced"})).is_err());
    }
}
