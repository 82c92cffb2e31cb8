//! Account status, single pushes on every supported channel, campaigns.

use walletport_core::{
    Campaign, CampaignId, Channel, CreateCampaign, ErrorKind, Provider, PushMessage, SendCampaign,
    SendPush, op,
};

use super::expect_error;
use crate::report::{CheckError, CheckResult, Context};
use crate::suite::Suite;

/// `status()` names the account behind the credentials.
pub async fn status_reports_account(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["status"])?;
    let status = provider.status().await.context("status")?;
    ensure!(
        !status.account.trim().is_empty(),
        "status reports an empty account name"
    );
    Ok(())
}

/// A message can be pushed to one customer on every channel the provider supports.
pub async fn push_single(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    let channels: Vec<Channel> = [Channel::Wallet, Channel::Webpush, Channel::Telegram]
        .into_iter()
        .filter(|c| suite.capability().push_on(*c))
        .collect();
    if channels.is_empty() {
        return Err(CheckError::Skipped(
            "capability off: push_wallet, push_webpush, push_telegram".to_owned(),
        ));
    }
    let phone = suite.new_customer(provider, |_| {}).await?.customer.phone;
    for channel in channels {
        let message = PushMessage::new(suite.name("push"), channel)?;
        provider
            .push()
            .push(SendPush {
                customer: phone.clone().into(),
                message,
            })
            .await
            .context(&format!("push on {channel:?}"))?;
    }
    Ok(())
}

/// A campaign is created with an id and can be sent by it.
pub async fn campaign_create_send(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["campaign_create", "campaign_send"])?;
    let segment = suite
        .options()
        .segment
        .clone()
        .filter(|_| suite.has("campaign_segment"));
    let campaign = Campaign {
        message: suite.name("campaign message"),
        channel: Channel::Wallet,
        name: Some(suite.name("campaign")),
        segment,
    };
    let created = provider
        .push()
        .create_campaign(CreateCampaign {
            campaign: campaign.clone(),
        })
        .await
        .context("create")?;
    ensure!(
        created.campaign.message == campaign.message,
        "the created campaign says {:?}",
        created.campaign.message
    );
    let sent = provider
        .push()
        .send_campaign(SendCampaign {
            id: created.id.clone(),
        })
        .await
        .context("send")?;
    ensure!(
        sent.id == created.id,
        "sending {} answered for {}",
        created.id,
        sent.id
    );
    Ok(())
}

/// Sending a campaign that does not exist is `NotFound`.
pub async fn campaign_not_found(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["campaign_send"])?;
    let id = CampaignId::new(format!("{}-no-such-campaign", suite.options().prefix))?;
    let result = provider.push().send_campaign(SendCampaign { id }).await;
    expect_error(
        suite,
        result,
        ErrorKind::NotFound,
        op::CAMPAIGN_SEND,
        "an unknown campaign",
    )
}
