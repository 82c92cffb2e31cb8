//! One suite, two backends: every test below runs against SQLite (a temp file) and against
//! PostgreSQL (a database of its own, dropped afterwards). See `support` for the skip rules.

mod suite;
mod support;

/// Every test body, by area; `suite!` instantiates each for both backends.
mod tests {
    pub(crate) use crate::suite::customers::*;
    pub(crate) use crate::suite::ledger::*;
    pub(crate) use crate::suite::outbox::*;
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::support::sqlite().await;
                    super::tests::$name(db.store.clone()).await;
                    db.store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::support::postgres().await else { return };
                    super::tests::$name(db.store.clone()).await;
                    db.store.close().await;
                }
            )*
        }
    };
}

suite!(
    upsert_creates_then_patches_and_keeps_the_id,
    customers_are_found_by_phone_id_and_card_and_listed_in_pages,
    cards_merge_conflict_and_webhook_updates_dedup,
    credit_is_exactly_once_and_conflicts_are_errors,
    racing_credits_with_one_transaction_id_credit_once,
    concurrent_batches_keep_per_item_outcomes,
    concurrent_credits_with_echo_keep_rows_and_outbox_items,
    lifetime_burns_exactly_at_the_instant_and_sweep_changes_nothing,
    debit_and_set_points,
    inbound_events_are_deduplicated,
    outbox_items_are_written_with_their_change,
    claims_take_whole_customers_in_order,
    two_workers_never_share_a_customer,
    dead_letters_after_max_attempts_and_retry,
    malformed_input_is_rejected_and_changes_nothing,
    resync_queues_every_customer_once_in_pages,
);
