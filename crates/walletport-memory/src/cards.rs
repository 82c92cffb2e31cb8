//! `CardPort`: issue (idempotent per customer and template), read, update fields, status, and
//! install links recorded in the outbox.

use async_trait::async_trait;
use walletport_core::{
    Card, CardPort, CardStatus, Error, ErrorKind, Fields, GetCard, IssueCard, LinkDelivery,
    MAX_MESSAGE_CHARS, Result, SendInstallLink, SetCardStatus, UpdateCard, validate_email,
};

use crate::enrolment::{enrol, issue};
use crate::ledger::Ledger;
use crate::outbox::OutboxEntry;
use crate::state::check_fields;
use crate::{MAX_FIELDS, MemoryProvider};

#[async_trait]
impl CardPort for MemoryProvider {
    /// Creates the holder if needed (like an upsert) and returns their card of the requested
    /// template, issuing it only if they have none; fields and balance values are applied.
    async fn issue_card(&self, input: IssueCard) -> Result<Card> {
        let template = self.template_or_default(input.template.as_ref());
        self.write(|state, now| {
            let phone = enrol(state, input.customer, &template, &input.balance, now)?;
            let existing = state.customer(&phone)?.cards.iter().find(|id| {
                state
                    .cards
                    .get(*id)
                    .is_some_and(|c| c.card.template.as_ref() == Some(&template))
            });
            let id = match existing {
                Some(id) => id.clone(),
                None => issue(state, &phone, template.clone(), Fields::new())?,
            };
            let entry = state.card_mut(&id)?;
            entry.card.fields.extend(input.fields);
            check_fields(&entry.card.fields, MAX_FIELDS as usize)?;
            Ok(entry.card.clone())
        })
    }

    async fn get_card(&self, input: GetCard) -> Result<Card> {
        self.read(|state, _| {
            let id = state.resolve_card(&input.card)?;
            state
                .cards
                .get(&id)
                .map(|e| e.card.clone())
                .ok_or_else(|| Error::not_found(format!("no card {id}")))
        })
    }

    async fn update_card(&self, input: UpdateCard) -> Result<Card> {
        self.write(|state, now| {
            Ledger::check_update(&input.balance)?;
            if let Some(text) = &input.notification {
                check_text(text, "notification")?;
            }
            let id = state.resolve_card(&input.card)?;
            let entry = state.card_mut(&id)?;
            entry.card.fields.extend(input.fields);
            check_fields(&entry.card.fields, MAX_FIELDS as usize)?;
            let card = entry.card.clone();
            let owner = entry.owner.clone();
            state.apply_balance(&owner, &input.balance)?;
            if let Some(text) = input.notification {
                state.log(OutboxEntry::CardNotification {
                    at: now,
                    card: id,
                    text,
                });
            }
            Ok(card)
        })
    }

    async fn set_card_status(&self, input: SetCardStatus) -> Result<Card> {
        self.write(|state, _| {
            let id = state.resolve_card(&input.card)?;
            let entry = state.card_mut(&id)?;
            entry.card.status = input.status;
            Ok(entry.card.clone())
        })
    }

    async fn send_install_link(&self, input: SendInstallLink) -> Result<()> {
        self.write(|state, now| {
            let id = state.resolve_card(&input.card)?;
            let entry = state
                .cards
                .get(&id)
                .ok_or_else(|| Error::not_found(format!("no card {id}")))?;
            if entry.card.status == CardStatus::Voided {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("card {id} is voided; reactivate it before sending its link"),
                ));
            }
            let link = entry.card.links.page.clone().unwrap_or_default();
            let owner = entry.owner.clone();
            let (via, to, text) =
                match input.delivery {
                    LinkDelivery::Sms { phone, text } => {
                        let text = match text {
                            Some(text) => {
                                check_text(&text, "SMS text")?;
                                text.replace("%link%", &link)
                            }
                            None => format!("Your loyalty card: {link}"),
                        };
                        let to = phone.unwrap_or(owner);
                        ("sms", to.to_string(), Some(text))
                    }
                    LinkDelivery::Email { email } => {
                        let to =
                            match email {
                                Some(email) => email,
                                None => state.customer(&owner)?.customer.email.clone().ok_or_else(
                                    || {
                                        Error::invalid_input(
                                            "the card holder has no e-mail address",
                                        )
                                    },
                                )?,
                            };
                        validate_email(&to)?;
                        ("email", to, None)
                    }
                };
            state.log(OutboxEntry::InstallLink {
                at: now,
                card: id,
                via: via.to_owned(),
                to,
                text,
                link,
            });
            Ok(())
        })
    }
}

fn check_text(text: &str, what: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid_input(format!("{what} must not be empty")));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::invalid_input(format!(
            "{what} is longer than {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(())
}
