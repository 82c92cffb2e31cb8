//! `PushCampaignPort`: single pushes and campaigns, recorded in the outbox.
//!
//! Segments are not a separate object in the memory provider: a customer belongs to segment `S`
//! when their `extra` field `segment` equals `S`.

use async_trait::async_trait;
use walletport_core::{
    CampaignId, CampaignRecord, CreateCampaign, Error, ErrorKind, PushCampaignPort, PushReceipt,
    Result, SendCampaign, SendPush,
};

use crate::MemoryProvider;
use crate::outbox::OutboxEntry;

/// The `extra` field that puts a customer into a segment.
pub const SEGMENT_FIELD: &str = "segment";

#[async_trait]
impl PushCampaignPort for MemoryProvider {
    async fn push(&self, input: SendPush) -> Result<PushReceipt> {
        self.write(|state, now| {
            let phone = state.resolve(&input.customer)?;
            state.log(OutboxEntry::Push {
                at: now,
                phone,
                channel: input.message.channel(),
                text: input.message.text().to_owned(),
            });
            Ok(PushReceipt {
                accepted: true,
                detail: Some("recorded in the memory outbox".to_owned()),
            })
        })
    }

    async fn create_campaign(&self, input: CreateCampaign) -> Result<CampaignRecord> {
        let campaign = input.campaign;
        campaign.validate()?;
        if let Some(name) = &campaign.name
            && (name.trim().is_empty() || name.chars().count() > 256)
        {
            return Err(Error::invalid_input(
                "campaign name must be 1 to 256 characters",
            ));
        }
        self.write(|state, _| {
            let n = state.next_campaign;
            state.next_campaign += 1;
            let id = CampaignId::new(format!("campaign-{n}"))?;
            let record = CampaignRecord {
                id: id.clone(),
                campaign,
                sent_at: None,
                recipients: None,
            };
            state.campaigns.insert(id, record.clone());
            Ok(record)
        })
    }

    /// Sends once; sending a campaign again is a [`ErrorKind::Conflict`].
    async fn send_campaign(&self, input: SendCampaign) -> Result<CampaignRecord> {
        self.write(|state, now| {
            let record = state
                .campaigns
                .get(&input.id)
                .ok_or_else(|| Error::not_found(format!("no campaign {}", input.id)))?;
            if record.sent_at.is_some() {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("campaign {} was sent already", input.id),
                ));
            }
            let segment = record.campaign.segment.clone();
            let channel = record.campaign.channel;
            let recipients = state
                .customers
                .values()
                .filter(|e| {
                    segment.as_ref().is_none_or(|s| {
                        e.customer.extra.get(SEGMENT_FIELD).map(String::as_str) == Some(s.as_str())
                    })
                })
                .count() as u64;
            let record = state
                .campaigns
                .get_mut(&input.id)
                .ok_or_else(|| Error::not_found(format!("no campaign {}", input.id)))?;
            record.sent_at = Some(now);
            record.recipients = Some(recipients);
            let record = record.clone();
            state.log(OutboxEntry::Campaign {
                at: now,
                id: input.id,
                channel,
                recipients,
            });
            Ok(record)
        })
    }
}
