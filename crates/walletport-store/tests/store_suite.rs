//! One suite, two backends: every test below runs against SQLite (a temp file) and against
//! PostgreSQL (a database of its own, dropped afterwards). See `support` for the skip rules.

mod suite;
mod support;

/// Every test body, by area; `suite!` instantiates each for both backends.
mod tests {
    pub(crate) use crate::suite::customers::*;
    pub(crate) use crate::suite::expiry::*;
    pub(crate) use crate::suite::history::*;
    pub(crate) use crate::suite::ledger::*;
    pub(crate) use crate::suite::ledger_model::*;
    pub(crate) use crate::suite::outbox::*;
    pub(crate) use crate::suite::quota::*;
    pub(crate) use crate::suite::redemptions::*;
    pub(crate) use crate::suite::reversals::*;
}

/// `stores`: bodies taking the store; `databases`: bodies taking the whole `TestDb` (to open a
/// second store on the same database).
macro_rules! suite {
    (stores: [$($name:ident),* $(,)?], databases: [$($db:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::support::sqlite().await;
                    super::tests::$name(db.store.clone()).await;
                    db.store.close().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $db() {
                    let db = super::support::sqlite().await;
                    super::tests::$db(&db).await;
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
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $db() {
                    let Some(db) = super::support::postgres().await else { return };
                    super::tests::$db(&db).await;
                    db.store.close().await;
                }
            )*
        }
    };
}

suite!(
    stores: [
        upsert_creates_then_patches_and_keeps_the_id,
        extra_fields_stay_bounded_across_patches,
        customers_are_found_by_phone_id_and_card_and_listed_in_pages,
        cards_merge_conflict_and_webhook_updates_dedup,
        inbound_events_are_deduplicated,
        malformed_input_is_rejected_and_changes_nothing,
        unstorable_text_and_dates_are_refused_alike_and_store_nothing,
        customers_are_searched_by_phone_prefix_and_name_in_pages,
        expiring_points_count_what_is_left_of_lots_burning_in_the_window,
        // ledger
        credit_is_exactly_once_and_conflicts_are_errors,
        racing_credits_with_one_transaction_id_credit_once,
        concurrent_batches_keep_per_item_outcomes,
        concurrent_credits_with_echo_keep_rows_and_outbox_items,
        lifetime_ends_exactly_at_the_instant_and_expiry_keeps_the_history,
        redemptions_and_set_points,
        concurrent_mixed_operations_keep_the_history_adding_up,
        // redemptions
        redemption_is_exactly_once_and_conflicts_are_errors,
        redemption_without_enough_points_changes_nothing,
        redemptions_spend_soonest_expiring_lots_first_and_never_expiring_last,
        redemption_with_echo_enqueues_a_balance_item,
        storm_of_redemptions_spends_the_balance_exactly,
        // reversals
        reversal_of_what_is_not_the_customers_credit_is_refused,
        reversal_is_exactly_once,
        reversal_after_spending_leaves_a_debt_that_later_credits_pay_first,
        reversal_takes_its_own_lot_then_other_points,
        reversal_of_a_partly_expired_credit_takes_back_only_what_did_not_expire,
        // history and expiry
        history_adds_up_and_pages_newest_first,
        expire_due_writes_an_entry_per_lot_at_its_instant_and_one_item_per_customer,
        // the model
        ledger_matches_a_model,
        // outbox
        outbox_items_are_written_with_their_change,
        claims_take_whole_customers_in_order,
        a_head_retried_later_waits_behind_what_fell_due_before_it,
        two_workers_never_share_a_customer,
        dead_letters_after_max_attempts_and_retry,
        handing_back_counts_no_attempt_and_frees_the_item_at_once,
        resync_queues_every_customer_once_in_pages,
        // vendor quota
        bad_quota_keys_and_windows_are_refused,
    ],
    databases: [
        two_gateways_expiring_at_once_never_expire_a_lot_twice,
        three_stores_share_one_window_and_fill_it,
        a_pause_holds_every_store,
        a_reopened_store_remembers_the_window,
        an_interactive_taker_goes_before_background_ones_of_every_store,
        a_lowered_limit_holds_every_store_and_a_reopened_one,
    ],
);
