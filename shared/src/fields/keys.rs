//! What a key means: the alias table, and what the words of a key (or of the objects it sits
//! in) say about whose it is. `customer_phone_number` is the prospect's phone,
//! `business_phone_number` the brokerage's own, `agent_email` an agent to assign, `From` in
//! an SMS webhook the person texting (its value says whether it is a number, an address or a
//! name).

/// What a field means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    FirstName,
    LastName,
    FullName,
    Email,
    Phone,
    /// A way to reach the person whose kind its value tells (`From`, `caller`, `contact`): an
    /// address, a number, or a name.
    Contact,
    Message,
    Tags,
    LeadSource,
    Street,
    Unit,
    City,
    State,
    Zip,
    Mls,
    Price,
    ListingUrl,
    Photo,
    AgentEmail,
    AgentPhone,
    AgentName,
    AgentFirstName,
    AgentLastName,
    AgentMlsId,
    AgentMlsBoard,
    PageUrl,
    Utm(&'static str),
    /// Metadata: not the prospect's words, not worth the agent's attention.
    Ignore,
    Unknown,
}

impl Meaning {
    /// A meaning by the name a routing config uses (`email`, `first_name`, `ignore`, …).
    pub fn from_config(name: &str) -> Option<Meaning> {
        Some(match canonical(name).as_str() {
            "ignore" => Meaning::Ignore,
            "note" | "message" => Meaning::Message,
            other => match meaning_of(other) {
                Meaning::Unknown | Meaning::Contact => return None,
                m => m,
            },
        })
    }

    /// A field that says who the person is or how to reach them.
    fn is_contact(&self) -> bool {
        matches!(
            self,
            Meaning::FirstName
                | Meaning::LastName
                | Meaning::FullName
                | Meaning::Email
                | Meaning::Phone
                | Meaning::Contact
        )
    }

    /// A part of an address.
    fn is_place(&self) -> bool {
        matches!(
            self,
            Meaning::Street | Meaning::Unit | Meaning::City | Meaning::State | Meaning::Zip
        )
    }
}

/// Letters the alias table spells without their accents (`Teléfono`, `Prénom`, `Straße`).
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => "a",
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "e",
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Î' => "i",
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ô' | 'Ö' | 'Õ' => "o",
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ü' => "u",
        'ñ' | 'Ñ' => "n",
        'ç' | 'Ç' => "c",
        'ß' => "ss",
        _ => return None,
    })
}

/// A key without Jotform's `q<N>_` prefix or an XML namespace's (`sf:Email`).
fn bare_key(key: &str) -> &str {
    let trimmed = key.trim();
    let trimmed = match trimmed.rsplit_once(':') {
        Some((prefix, local))
            if !local.trim().is_empty()
                && !prefix.is_empty()
                && prefix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            local.trim()
        }
        _ => trimmed,
    };
    match trimmed.strip_prefix('q') {
        Some(rest) => match rest.find('_') {
            Some(i) if i > 0 && rest[..i].bytes().all(|b| b.is_ascii_digit()) => &rest[i + 1..],
            _ => trimmed,
        },
        None => trimmed,
    }
}

/// Letters and digits only, lower case, accents folded; Jotform's `q<N>_` prefix removed.
pub fn canonical(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in bare_key(key).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if let Some(folded) = fold(c) {
            out.push_str(folded);
        }
    }
    out
}

/// The words of a key, lower case: split at anything not a letter or digit and where
/// camelCase turns (`customerPhoneNumber`, `SMSSid`, `caller_name`, "Best number").
pub fn key_tokens(key: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = bare_key(key).chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let folded = fold(c);
        if !(c.is_ascii_alphanumeric() || folded.is_some()) {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            continue;
        }
        let upper = c.is_ascii_uppercase();
        let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase());
        let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
        let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
        if upper && !current.is_empty() && (prev_lower || (prev_upper && next_lower)) {
            tokens.push(std::mem::take(&mut current));
        }
        match folded {
            Some(f) => current.push_str(f),
            None => current.push(c.to_ascii_lowercase()),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Whose a field is, from the words of its key or of the objects around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The person who reached out: the lead.
    Person,
    /// The brokerage's own business, number or tool (`business_phone_number`, `To` of an SMS,
    /// a tracking number, the site a widget runs on): never the lead's.
    Business,
    /// An agent the lead is for: an assignee.
    Agent,
    /// The property asked about.
    Listing,
}

/// Words that say whose a key is. `from`/`to` and their kin flip for an outbound message or
/// call (`Direction: outbound-api`), where the brokerage is the sender.
fn party_of_word(word: &str, outbound: bool) -> Option<Party> {
    use Party::*;
    Some(match word {
        "from" | "sender" | "source" if outbound => Business,
        "to" | "recipient" | "receiver" | "destination" if outbound => Person,
        "visitor" | "visitors" | "contact" | "contacts" | "customer" | "customers" | "person"
        | "people" | "caller" | "callers" | "lead" | "leads" | "prospect" | "client"
        | "consumer" | "buyer" | "seller" | "renter" | "tenant" | "guest" | "requester"
        | "submitter" | "respondent" | "applicant" | "from" | "sender" | "author" | "inquirer"
        | "enquirer" | "patient" | "shopper" | "subscriber" | "profile" | "originator" => Person,
        "business" | "office" | "brokerage" | "agency" | "account" | "tracking" | "tracked"
        | "destination" | "dialed" | "dialled" | "called" | "to" | "recipient" | "receiver"
        | "forwarding" | "forwarded" | "site" | "website" | "widget" | "workspace" | "store"
        | "merchant" | "operator" | "operators" | "staff" | "bot" | "system" | "team"
        | "virtual" | "pool" | "group" | "groups" | "department" | "carrier" | "workflow"
        | "automation" => Business,
        "agent" | "agents" | "realtor" | "assignee" | "assigned" => Agent,
        "property" | "listing" | "house" | "community" | "building" => Listing,
        _ => return None,
    })
}

/// The party a key's own words name. Only a short key names one (`customer_phone_number`,
/// `FromCity`); a question ("When are you looking to buy?", "How should we contact you?")
/// uses those words for something else. `from` and `to` count only as the key's first word.
fn own_party(tokens: &[String], outbound: bool) -> Option<Party> {
    if tokens.len() > 4 {
        return None;
    }
    tokens.iter().enumerate().find_map(|(i, t)| {
        if i > 0 && matches!(t.as_str(), "from" | "to") {
            return None;
        }
        party_of_word(t, outbound)
    })
}

/// Words that only qualify a key (`the_`, `your`, `primary`): left out of its base meaning.
const FILLER: &[&str] = &[
    "the",
    "your",
    "primary",
    "main",
    "preferred",
    "default",
    "s",
];

/// Keys whose last word makes them metadata whatever comes before (`MessageSid`, `callId`,
/// `SmsStatus`, `NumMedia`, `ApiVersion`, `call_type`).
fn is_metadata(tokens: &[String]) -> bool {
    let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
        return false;
    };
    matches!(
        last.as_str(),
        "id" | "ids"
            | "sid"
            | "uuid"
            | "guid"
            | "token"
            | "hash"
            | "signature"
            | "secret"
            | "status"
            | "version"
            | "count"
            | "segments"
            | "direction"
            | "timestamp"
            | "key"
    ) || (first == "user" && last == "agent")
        || (matches!(last.as_str(), "type" | "kind")
            && matches!(
                first.as_str(),
                "call"
                    | "event"
                    | "message"
                    | "record"
                    | "object"
                    | "content"
                    | "media"
                    | "resource"
                    | "webhook"
                    | "sms"
                    | "chat"
                    | "payload"
                    | "line"
            ))
        || (tokens.len() > 1 && matches!(first.as_str(), "num" | "api"))
}

/// The meaning of a key as sent (`customer_phone_number`) inside objects named `path`
/// (outermost first): the alias table's entry for the whole key when it has one; else the
/// key's words say whose it is (or the objects' names do, innermost first), and the rest of
/// the words what it is. `outbound` is a message or call the brokerage sent.
pub fn meaning_in(path: &[String], key: &str, outbound: bool) -> Meaning {
    let whole = canonical(key);
    let tokens = key_tokens(key);
    if tokens.is_empty() {
        return Meaning::Unknown;
    }
    let named = own_party(&tokens, outbound);
    // The whole key in the table, unless its own words name another party ("To", "Source"
    // of an outbound message).
    let listed = table(&whole);
    if let Some(m) = &listed
        && (named.is_none_or(|p| p == Party::Person || !m.is_contact())
            || whole.starts_with("replyto"))
    {
        return match path_party(path, outbound) {
            Some(p) => as_party(m.clone(), p),
            None => m.clone(),
        };
    }
    if is_metadata(&tokens) {
        return Meaning::Ignore;
    }
    let base: Vec<&str> = tokens
        .iter()
        .map(String::as_str)
        .filter(|t| {
            (named.is_none() || party_of_word(t, outbound).is_none()) && !FILLER.contains(t)
        })
        .collect();
    let base_key: String = base.concat();
    let party = named.or_else(|| path_party(path, outbound));
    let base_meaning = if base.is_empty() {
        Meaning::Contact
    } else {
        match table(&base_key).unwrap_or_else(|| guess(&base_key)) {
            // "caller number", "contact info", a customer's `handle`: the value decides.
            Meaning::Unknown
                if party == Some(Party::Person)
                    && matches!(
                        base_key.as_str(),
                        "number" | "num" | "no" | "handle" | "info"
                    ) =>
            {
                Meaning::Contact
            }
            // A sentence that mentions a message ("Report this message as inappropriate")
            // is no label of one; a question asking for the person's words is.
            Meaning::Message
                if tokens.len() > 4
                    && !["lookingfor", "tellus", "anythingelse", "helpyou"]
                        .iter()
                        .any(|w| base_key.contains(w)) =>
            {
                Meaning::Unknown
            }
            m => m,
        }
    };
    match party {
        Some(p) => as_party(base_meaning, p),
        None => base_meaning,
    }
}

/// Whose a field is by the words of its key, else of the objects around it (innermost
/// first); `None` when nothing says.
pub fn party_in(path: &[String], key: &str, outbound: bool) -> Option<Party> {
    own_party(&key_tokens(key), outbound).or_else(|| path_party(path, outbound))
}

/// The party the innermost object with a party's name gives. An object called `location`
/// is the business's (a CRM's sub-account, a widget's site); a field called so is where the
/// person looks.
fn path_party(path: &[String], outbound: bool) -> Option<Party> {
    path.iter().rev().find_map(|segment| {
        key_tokens(segment).iter().find_map(|t| {
            party_of_word(t, outbound).or((t == "location").then_some(Party::Business))
        })
    })
}

/// What a field of this meaning is when it is `party`'s.
fn as_party(meaning: Meaning, party: Party) -> Meaning {
    use Meaning::*;
    match party {
        // The person's own city or street is where they are, not the property they asked
        // about: a line of the note.
        Party::Person if meaning.is_place() => Unknown,
        Party::Person => meaning,
        Party::Business if meaning.is_contact() || meaning.is_place() => Ignore,
        Party::Business => match meaning {
            Message | Tags | LeadSource | PageUrl | Utm(_) | ListingUrl => meaning,
            _ => Ignore,
        },
        Party::Agent => match meaning {
            Email => AgentEmail,
            Phone => AgentPhone,
            FullName | Contact => AgentName,
            FirstName => AgentFirstName,
            LastName => AgentLastName,
            m @ (AgentEmail | AgentPhone | AgentName | AgentFirstName | AgentLastName
            | AgentMlsId | AgentMlsBoard) => m,
            _ => Ignore,
        },
        // A property's own name, phone or email is the listing's, not the person's.
        Party::Listing if meaning.is_contact() => Unknown,
        Party::Listing => meaning,
    }
}

/// Whether the alias table lists the key itself (not only words of it).
pub fn listed(key: &str) -> bool {
    table(&canonical(key)).is_some()
}

/// The meaning of a canonical key.
pub fn meaning_of(key: &str) -> Meaning {
    table(key).unwrap_or_else(|| guess(key))
}

/// The alias table: keys as senders spell them, reduced by `canonical`.
fn table(key: &str) -> Option<Meaning> {
    use Meaning::*;
    Some(match key {
        "firstname" | "fname" | "first" | "givenname" | "forename" | "namefirst"
        | "yourfirstname" | "prenom" | "vorname" | "primeironome" => FirstName,
        "lastname" | "lname" | "last" | "surname" | "familyname" | "namelast" | "yourlastname"
        | "apellido" | "apellidos" | "nachname" | "sobrenome" | "nomdefamille" => LastName,
        "name" | "fullname" | "yourname" | "contactname" | "clientname" | "leadname"
        | "customername" | "buyername" | "sellername" | "prospectname" | "yourfullname"
        | "namefull" | "consumername" | "nombre" | "nombrecompleto" | "nomcomplet" | "nome"
        | "nomecompleto" | "callername" | "cnam" | "displayname" | "visitorname" => FullName,
        "callerid" | "ani" => Contact,
        "email" | "emailaddress" | "mail" | "youremail" | "emailid" | "contactemail"
        | "clientemail" | "leademail" | "customeremail" | "useremail" | "youremailaddress"
        | "consumeremail" | "replyto" | "replytoemail" | "correo" | "correoelectronico"
        | "courriel" | "adresseemail" | "email1" | "emails" => Email,
        "phone" | "phonenumber" | "telephone" | "tel" | "mobile" | "mobilephone"
        | "mobilenumber" | "cell" | "cellphone" | "cellnumber" | "yourphone" | "contactphone"
        | "phoneno" | "homephone" | "primaryphone" | "yourphonenumber" | "telephonenumber"
        | "consumerphone" | "userphone" | "contactnumber" | "bestnumber" | "bestphone"
        | "callernumber" | "callbacknumber" | "msisdn" | "telefono" | "telefone" | "celular"
        | "movil" | "telefon" | "handy" | "portable" | "numerodetelephone" | "phones"
        | "whatsapp" | "textnumber" => Phone,
        "message"
        | "messages"
        | "comments"
        | "comment"
        | "notes"
        | "note"
        | "question"
        | "questions"
        | "inquiry"
        | "enquiry"
        | "yourmessage"
        | "additionalinformation"
        | "additionalinfo"
        | "details"
        | "description"
        | "howcanwehelp"
        | "howcanwehelpyou"
        | "whatcanwehelpwith"
        | "moreinfo"
        | "request"
        | "leadmessage"
        | "body"
        | "text"
        | "content"
        | "msg"
        | "transcript"
        | "transcription"
        | "transcriptiontext"
        | "voicemail"
        | "voicemailtranscription"
        | "summary"
        | "chatsummary"
        | "callsummary"
        | "conversationsummary"
        | "mensaje"
        | "comentario"
        | "comentarios"
        | "commentaire"
        | "commentaires"
        | "nachricht"
        | "mensagem" => Message,
        "tags" | "tag" | "labels" | "leadtype" | "clienttype" | "contacttype" => Tags,
        "leadsource" | "source" | "leadsourcename" | "sourcename" => LeadSource,
        "address" | "streetaddress" | "propertyaddress" | "listingaddress" | "street"
        | "address1" | "propertyaddress1" | "addressline1" | "addrline1" | "propertystreet"
        | "listingstreet" | "homeaddress" | "direccion" | "adresse" | "endereco" => Street,
        "unit" | "apt" | "apartment" | "unitnumber" | "addressline2" | "address2"
        | "propertyaddress2" | "addrline2" | "listingunit" => Unit,
        "city" | "propertycity" | "listingcity" | "town" | "ciudad" | "ville" | "cidade" => City,
        "state" | "region" | "province" | "statecode" | "propertystate" | "listingstate" => State,
        "zip" | "zipcode" | "postalcode" | "postcode" | "postal" | "propertyzip"
        | "listingpostalcode" | "listingzip" | "codigopostal" | "codepostal" => Zip,
        "mls" | "mlsnumber" | "mlsid" | "mlsno" | "mlslisting" | "listingmls"
        | "listingmlsnumber" => Mls,
        "price" | "listprice" | "listingprice" | "askingprice" | "propertyprice" => Price,
        "listingurl" | "propertyurl" | "listinglink" | "propertylink" | "homeurl" => ListingUrl,
        "photo" | "photourl" | "image" | "imageurl" | "coverimage" | "coverimageurl"
        | "picture" | "listingphoto" => Photo,
        "agentemail" | "assignedagentemail" | "realtoremail" | "agentemailaddress" => AgentEmail,
        "agentphone" | "agentphonenumber" | "realtorphone" => AgentPhone,
        "agentname" | "assignedagent" | "realtorname" | "agentfullname" => AgentName,
        "agentfirstname" => AgentFirstName,
        "agentlastname" => AgentLastName,
        "agentmlsid" | "agentmlsnumber" => AgentMlsId,
        "agentmls" | "agentmlsboard" => AgentMlsBoard,
        "pageurl" | "referer" | "referrer" | "refererurl" | "referrerurl" | "sourceurl"
        | "formurl" | "pagelocation" | "landingpage" | "landingpageurl" | "url" | "pagelink" => {
            PageUrl
        }
        "utmsource" => Utm("utm_source"),
        "utmmedium" => Utm("utm_medium"),
        "utmcampaign" => Utm("utm_campaign"),
        "utmterm" => Utm("utm_term"),
        "utmcontent" => Utm("utm_content"),
        "ip"
        | "ipaddress"
        | "remoteip"
        | "useragent"
        | "date"
        | "time"
        | "datesubmitted"
        | "timesubmitted"
        | "submittedat"
        | "createdat"
        | "updatedat"
        | "createdtime"
        | "formid"
        | "formname"
        | "formtitle"
        | "pageid"
        | "pagename"
        | "pageuuid"
        | "variant"
        | "poweredby"
        | "submissionid"
        | "entryid"
        | "id"
        | "token"
        | "submit"
        | "grecaptcharesponse"
        | "recaptcha"
        | "captcha"
        | "honeypot"
        | "gotcha"
        | "botfield"
        | "timestamp"
        | "action"
        | "eventtype"
        | "event"
        | "formtoken"
        | "nonce"
        | "csrftoken"
        | "cfturnstileresponse"
        | "hcaptcharesponse"
        | "redirect"
        | "next"
        | "siteid"
        | "formelementid"
        // Credentials senders carry in the body: never a lead's words.
        | "googlekey"
        | "handshakekey"
        | "apikey"
        | "accesstoken"
        | "authtoken"
        | "secret"
        | "password"
        | "signature"
        | "type"
        | "kind"
        | "object"
        | "apiversion"
        | "nummedia"
        | "numsegments"
        | "accountsid"
        | "direction"
        | "browser"
        | "os"
        | "device"
        | "platform"
        | "language"
        | "locale"
        | "timezone"
        | "duration"
        | "recording"
        | "recordingurl"
        | "recordingduration"
        | "starttime"
        | "endtime"
        | "startedat"
        | "endedat"
        | "answered"
        | "firstcall"
        | "datecreated"
        | "dateadded"
        | "dateupdated"
        | "datemodified"
        | "created"
        | "updated"
        | "modified"
        | "lastupdated"
        | "lastmodified" => Ignore,
        _ => return None,
    })
}

/// Keys no table can list: a key that says "email", "phone" or ends in "name" most likely
/// means that (Jotform's `studentsName`, "Your Email Here", "Best number to reach you").
fn guess(key: &str) -> Meaning {
    let agentish = key.contains("agent") || key.contains("realtor");
    // "StreetEasy Listing street address", "Property street address".
    if key.ends_with("streetaddress") && !agentish {
        return Meaning::Street;
    }
    if key.contains("email") || key.contains("correo") || key.contains("courriel") {
        return if agentish {
            Meaning::AgentEmail
        } else {
            Meaning::Email
        };
    }
    let reach = ["best", "contact", "reach", "call", "text", "cell", "mobile"];
    if key.contains("phone")
        || key.contains("mobile")
        || key.contains("cellular")
        || key.contains("telef")
        || key.contains("whatsapp")
        || (key.contains("number") && reach.iter().any(|w| key.contains(w)))
    {
        return if agentish {
            Meaning::AgentPhone
        } else {
            Meaning::Phone
        };
    }
    // "Personal Message from Prospect", "Chat Summary", "Your questions", "Comments or
    // Questions".
    if !agentish
        && [
            "message",
            "comment",
            "question",
            "summary",
            "transcript",
            "lookingfor",
            "tellus",
            "anythingelse",
            "helpyou",
        ]
        .iter()
        .any(|w| key.contains(w))
        && !["url", "link", "count", "date", "time", "type", "status"]
            .iter()
            .any(|w| key.ends_with(w))
    {
        return Meaning::Message;
    }
    let not_a_person = [
        "company",
        "user",
        "page",
        "form",
        "site",
        "file",
        "business",
        "brokerage",
        "office",
        "street",
        "property",
        "building",
        "community",
        "listing",
        "pet",
        "campaign",
        "event",
        "funnel",
        "plan",
        "product",
        "widget",
        "group",
        "list",
        "source",
    ];
    if key.contains("name") && !agentish && !not_a_person.iter().any(|w| key.contains(w)) {
        let (first, last) = (
            key.contains("first"),
            key.contains("last") || key.contains("sur"),
        );
        return match (first, last) {
            (true, false) => Meaning::FirstName,
            (false, true) => Meaning::LastName,
            _ => Meaning::FullName,
        };
    }
    Meaning::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(path: &[&str], key: &str) -> Meaning {
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        meaning_in(&path, key, false)
    }

    #[test]
    fn words_of_a_key_are_split_where_people_split_them() {
        assert_eq!(
            key_tokens("customerPhoneNumber"),
            ["customer", "phone", "number"]
        );
        assert_eq!(key_tokens("SMSMessageSid"), ["sms", "message", "sid"]);
        assert_eq!(key_tokens("caller_name"), ["caller", "name"]);
        assert_eq!(key_tokens("Best number "), ["best", "number"]);
        assert_eq!(key_tokens("Teléfono"), ["telefono"]);
        assert_eq!(key_tokens("sf:Email"), ["email"]);
        assert_eq!(canonical("q3_firstName"), "firstname");
    }

    #[test]
    fn the_person_is_told_from_the_business_agent_and_listing() {
        assert_eq!(m(&[], "customer_phone_number"), Meaning::Phone);
        assert_eq!(m(&[], "business_phone_number"), Meaning::Ignore);
        assert_eq!(m(&[], "tracking_phone_number"), Meaning::Ignore);
        assert_eq!(m(&[], "caller_name"), Meaning::FullName);
        assert_eq!(m(&[], "callerNumber"), Meaning::Phone);
        assert_eq!(m(&[], "From"), Meaning::Contact);
        assert_eq!(m(&[], "To"), Meaning::Ignore);
        assert_eq!(m(&[], "emailAddress"), Meaning::Email);
        assert_eq!(m(&[], "fullName"), Meaning::FullName);
        assert_eq!(m(&["visitor"], "name"), Meaning::FullName);
        assert_eq!(m(&["visitor"], "city"), Meaning::Unknown);
        assert_eq!(m(&["business"], "phone"), Meaning::Ignore);
        assert_eq!(m(&["agent"], "email"), Meaning::AgentEmail);
        assert_eq!(m(&["property"], "name"), Meaning::Unknown);
        assert_eq!(m(&["property"], "city"), Meaning::City);
        assert_eq!(m(&[], "MessageSid"), Meaning::Ignore);
        assert_eq!(m(&[], "SmsStatus"), Meaning::Ignore);
        assert_eq!(m(&[], "Chat Summary"), Meaning::Message);
        assert_eq!(m(&[], "Personal Message from Prospect"), Meaning::Message);
        assert_eq!(m(&[], "Best number to reach you"), Meaning::Phone);
        assert_eq!(m(&[], "Contact Number"), Meaning::Phone);
        assert_eq!(m(&[], "Correo electrónico"), Meaning::Email);
        assert_eq!(m(&[], "Prénom"), Meaning::FirstName);
        // Outbound: the brokerage sent it, so the recipient is the person.
        let outbound = |k: &str| meaning_in(&[], k, true);
        assert_eq!(outbound("From"), Meaning::Ignore);
        assert_eq!(outbound("To"), Meaning::Contact);
    }
}
