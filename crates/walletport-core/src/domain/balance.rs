use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;
use crate::ids::TransactionId;

/// The largest amount of points one entry may carry (a credit, a debit, a balance set): 10^12.
///
/// Bounded so that no sum of entries a store can hold overflows `Decimal` (it would take 10^16
/// entries at the bound) and a typo at a till cannot make an account unreadable.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// The most decimal places an amount may have (after trailing zeros are dropped).
pub const MAX_SCALE: u32 = 18;

/// Checks that `amount` is within [`MAX_AMOUNT`] and [`MAX_SCALE`]; `what` names it in the
/// error. Signs are the caller's rule.
///
/// ```
/// use rust_decimal::Decimal;
/// use walletport_core::check_amount;
/// assert!(check_amount("credit", Decimal::new(15025, 2)).is_ok());
/// assert!(check_amount("credit", Decimal::MAX).is_err());
/// assert!(check_amount("credit", Decimal::new(1, 19)).is_err());
/// ```
pub fn check_amount(what: &str, amount: Decimal) -> Result<Decimal, Error> {
    let amount = amount.normalize();
    if amount.abs() > MAX_AMOUNT {
        return Err(Error::invalid_input(format!(
            "{what} {amount} is over the limit of {MAX_AMOUNT} per entry"
        )));
    }
    if amount.scale() > MAX_SCALE {
        return Err(Error::invalid_input(format!(
            "{what} {amount} has more than {MAX_SCALE} decimal places"
        )));
    }
    Ok(amount)
}

/// A percentage between 0 and 100 inclusive (bonus accrual or discount rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Percent(Decimal);

impl Percent {
    /// Validates that `value` lies in 0..=100.
    pub fn new(value: Decimal) -> Result<Self, Error> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(Error::invalid_input(format!(
                "percentage {value} is negative"
            )));
        }
        if value > Decimal::ONE_HUNDRED {
            return Err(Error::invalid_input(format!(
                "percentage {value} is over 100"
            )));
        }
        Ok(Self(value.normalize()))
    }

    /// The value as a decimal.
    pub fn value(self) -> Decimal {
        self.0
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Percent::new(<Decimal as Deserialize>::deserialize(d)?)
            .map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// What a customer holds: points and the two percentages vendors show on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Balance {
    /// Loyalty points / bonus money.
    pub points: Decimal,
    /// Bonus accrual percentage.
    pub bonus_percent: Percent,
    /// Discount percentage.
    pub discount_percent: Percent,
}

/// A partial change of a balance: `None` leaves a value as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BalanceUpdate {
    /// New points value.
    pub points: Option<Decimal>,
    /// New bonus percentage.
    pub bonus_percent: Option<Percent>,
    /// New discount percentage.
    pub discount_percent: Option<Percent>,
}

impl BalanceUpdate {
    /// True when the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.points.is_none() && self.bonus_percent.is_none() && self.discount_percent.is_none()
    }

    /// The same update with both percentages set to zero where it leaves them unset.
    pub fn with_all_percentages_zero(self) -> Self {
        Self {
            bonus_percent: self.bonus_percent.or(Some(Percent::default())),
            discount_percent: self.discount_percent.or(Some(Percent::default())),
            ..self
        }
    }

    /// Applies the update to a balance.
    pub fn apply(&self, balance: &mut Balance) {
        if let Some(p) = self.points {
            balance.points = p.normalize();
        }
        if let Some(b) = self.bonus_percent {
            balance.bonus_percent = b;
        }
        if let Some(d) = self.discount_percent {
            balance.discount_percent = d;
        }
    }
}

impl From<Balance> for BalanceUpdate {
    fn from(b: Balance) -> Self {
        Self {
            points: Some(b.points),
            bonus_percent: Some(b.bonus_percent),
            discount_percent: Some(b.discount_percent),
        }
    }
}

/// Which of the three balance values a provider can hold on its cards.
///
/// A vendor (or a vendor configuration) may show only some of them: Skycore has no discount
/// field, a Passteam template may map only the points. The gateway sends a customer's state
/// reduced to these and keeps the rest in its own store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BalanceFields {
    /// Points / bonus money.
    pub points: bool,
    /// Bonus accrual percentage.
    pub bonus_percent: bool,
    /// Discount percentage.
    pub discount_percent: bool,
}

impl Default for BalanceFields {
    fn default() -> Self {
        Self::ALL
    }
}

impl BalanceFields {
    /// All three values.
    pub const ALL: Self = Self {
        points: true,
        bonus_percent: true,
        discount_percent: true,
    };

    /// None of them.
    pub const NONE: Self = Self {
        points: false,
        bonus_percent: false,
        discount_percent: false,
    };

    /// The stable names of the three fields, as used in metrics and errors.
    pub const NAMES: [&'static str; 3] = ["points", "bonus_percent", "discount_percent"];

    /// True when the provider holds none of the three values.
    pub fn is_empty(&self) -> bool {
        !(self.points || self.bonus_percent || self.discount_percent)
    }

    /// The names of the fields held, in [`Self::NAMES`] order.
    pub fn held(&self) -> Vec<&'static str> {
        let flags = [self.points, self.bonus_percent, self.discount_percent];
        Self::NAMES
            .into_iter()
            .zip(flags)
            .filter_map(|(name, on)| on.then_some(name))
            .collect()
    }

    /// Splits `update` into the part this provider holds and the names of the set values it
    /// cannot hold (which the caller keeps elsewhere, e.g. the gateway's store).
    ///
    /// ```
    /// use rust_decimal::Decimal;
    /// use walletport_core::{BalanceFields, BalanceUpdate};
    /// let skycore = BalanceFields { discount_percent: false, ..BalanceFields::ALL };
    /// let update = BalanceUpdate { points: Some(Decimal::TEN), ..BalanceUpdate::default() }
    ///     .with_all_percentages_zero();
    /// let (sent, dropped) = skycore.reduce(update);
    /// assert_eq!(sent.points, Some(Decimal::TEN));
    /// assert!(sent.discount_percent.is_none());
    /// assert_eq!(dropped, ["discount_percent"]);
    /// ```
    pub fn reduce(&self, update: BalanceUpdate) -> (BalanceUpdate, Vec<&'static str>) {
        let mut dropped = Vec::new();
        let mut keep = |held: bool, set: bool, name: &'static str| {
            if set && !held {
                dropped.push(name);
            }
            held
        };
        let reduced = BalanceUpdate {
            points: update
                .points
                .filter(|_| keep(self.points, update.points.is_some(), "points")),
            bonus_percent: update.bonus_percent.filter(|_| {
                keep(
                    self.bonus_percent,
                    update.bonus_percent.is_some(),
                    "bonus_percent",
                )
            }),
            discount_percent: update.discount_percent.filter(|_| {
                keep(
                    self.discount_percent,
                    update.discount_percent.is_some(),
                    "discount_percent",
                )
            }),
        };
        (reduced, dropped)
    }

    /// The names of the values `update` sets that this provider cannot hold.
    pub fn not_held_in(&self, update: &BalanceUpdate) -> Vec<&'static str> {
        self.reduce(*update).1
    }
}

/// A credit of points, exactly-once by its transaction id, optionally burning after `lifetime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CreditRepr")]
pub struct Credit {
    amount: Decimal,
    transaction_id: TransactionId,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    lifetime: Option<Duration>,
}

/// The unchecked wire shape of [`Credit`]; deserialization validates through [`Credit::new`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditRepr {
    amount: Decimal,
    transaction_id: TransactionId,
    #[serde(default, with = "humantime_serde")]
    lifetime: Option<Duration>,
}

impl TryFrom<CreditRepr> for Credit {
    type Error = Error;
    fn try_from(r: CreditRepr) -> Result<Self, Error> {
        Credit::new(r.amount, r.transaction_id, r.lifetime)
    }
}

impl Credit {
    /// A credit of a positive `amount`; zero and negative amounts are rejected.
    ///
    /// ```
    /// use rust_decimal::Decimal;
    /// use walletport_core::{Credit, TransactionId};
    /// let tx = TransactionId::new("order-17").unwrap();
    /// assert!(Credit::new(Decimal::new(5025, 2), tx.clone(), None).is_ok());
    /// assert!(Credit::new(Decimal::new(-1, 0), tx, None).is_err());
    /// ```
    pub fn new(
        amount: Decimal,
        transaction_id: TransactionId,
        lifetime: Option<Duration>,
    ) -> Result<Self, Error> {
        if amount <= Decimal::ZERO {
            return Err(Error::invalid_input(format!(
                "credit amount must be positive, got {amount}"
            )));
        }
        let amount = check_amount("credit amount", amount)?;
        if lifetime.is_some_and(|l| l.is_zero()) {
            return Err(Error::invalid_input("credit lifetime must be positive"));
        }
        Ok(Self {
            amount: amount.normalize(),
            transaction_id,
            lifetime,
        })
    }

    /// The amount credited (always positive).
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The exactly-once key.
    pub fn transaction_id(&self) -> &TransactionId {
        &self.transaction_id
    }

    /// How long the credited points live, if they expire.
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

/// A redemption: points spent exactly once by its transaction id (a free coffee at the till).
///
/// Where the points come from is the provider's rule, the same for all of them: the lots that
/// burn soonest are spent first, points that never burn last (see
/// [`BalancePort::redeem`](crate::BalancePort::redeem)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RedemptionRepr")]
pub struct Redemption {
    amount: Decimal,
    transaction_id: TransactionId,
}

/// The unchecked wire shape of [`Redemption`]; deserialization validates through
/// [`Redemption::new`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedemptionRepr {
    amount: Decimal,
    transaction_id: TransactionId,
}

impl TryFrom<RedemptionRepr> for Redemption {
    type Error = Error;
    fn try_from(r: RedemptionRepr) -> Result<Self, Error> {
        Redemption::new(r.amount, r.transaction_id)
    }
}

impl Redemption {
    /// A redemption of a positive `amount` within [`MAX_AMOUNT`] and [`MAX_SCALE`]; zero,
    /// negative and out-of-bound amounts are rejected.
    ///
    /// ```
    /// use rust_decimal::Decimal;
    /// use walletport_core::{Redemption, TransactionId};
    /// let tx = TransactionId::new("till-4-0017").unwrap();
    /// assert!(Redemption::new(Decimal::new(100, 0), tx.clone()).is_ok());
    /// assert!(Redemption::new(Decimal::ZERO, tx.clone()).is_err());
    /// assert!(Redemption::new(Decimal::MAX, tx).is_err());
    /// ```
    pub fn new(amount: Decimal, transaction_id: TransactionId) -> Result<Self, Error> {
        if amount <= Decimal::ZERO {
            return Err(Error::invalid_input(format!(
                "redemption amount must be positive, got {amount}"
            )));
        }
        let amount = check_amount("redemption amount", amount)?;
        Ok(Self {
            amount,
            transaction_id,
        })
    }

    /// The amount spent (always positive, normalized).
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The exactly-once key.
    pub fn transaction_id(&self) -> &TransactionId {
        &self.transaction_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn max_amount_is_ten_to_the_twelfth() {
        assert_eq!(MAX_AMOUNT, dec!(1_000_000_000_000));
        let tx = TransactionId::new("t").unwrap();
        assert!(Credit::new(MAX_AMOUNT, tx.clone(), None).is_ok());
        assert!(Credit::new(MAX_AMOUNT + dec!(0.000001), tx.clone(), None).is_err());
        assert!(Credit::new(Decimal::MAX, tx, None).is_err());
    }

    proptest::proptest! {
        /// Every credit the type accepts is within the bounds, and every amount within them
        /// (positive) is accepted: the bound is the only rule besides the sign.
        #[test]
        fn credits_are_bounded(mantissa in proptest::num::i128::ANY, scale in 0u32..=28) {
            let amount = Decimal::try_from_i128_with_scale(mantissa % (1i128 << 96), scale)
                .unwrap_or(Decimal::MAX);
            let tx = TransactionId::new("t").unwrap();
            let normal = amount.normalize();
            let within = normal > Decimal::ZERO && normal <= MAX_AMOUNT && normal.scale() <= MAX_SCALE;
            match Credit::new(amount, tx, None) {
                Ok(c) => {
                    proptest::prop_assert!(within, "{amount} accepted");
                    proptest::prop_assert!(c.amount() <= MAX_AMOUNT && c.amount().scale() <= MAX_SCALE);
                }
                Err(e) => {
                    proptest::prop_assert!(!within, "{amount} refused: {e}");
                    proptest::prop_assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
                }
            }
        }
    }

    #[test]
    fn redemption_is_positive_and_bounded_also_when_deserialized() {
        let tx = TransactionId::new("r").unwrap();
        assert!(Redemption::new(dec!(0), tx.clone()).is_err());
        assert!(Redemption::new(dec!(-1), tx.clone()).is_err());
        assert!(Redemption::new(MAX_AMOUNT, tx.clone()).is_ok());
        assert!(Redemption::new(MAX_AMOUNT + dec!(1), tx.clone()).is_err());
        assert!(Redemption::new(Decimal::new(1, 19), tx.clone()).is_err());
        assert_eq!(
            Redemption::new(dec!(10.500), tx)
                .unwrap()
                .amount()
                .to_string(),
            "10.5"
        );
        assert!(
            serde_json::from_str::<Redemption>(r#"{"amount":"0","transaction_id":"r"}"#).is_err()
        );
        assert!(
            serde_json::from_str::<Redemption>(r#"{"amount":"1","transaction_id":"r","x":1}"#)
                .is_err()
        );
        let r: Redemption =
            serde_json::from_str(r#"{"amount":"2.50","transaction_id":"r"}"#).unwrap();
        assert_eq!(r.amount(), dec!(2.5));
        assert_eq!(r.transaction_id().as_str(), "r");
    }

    #[test]
    fn percent_bounds() {
        assert!(Percent::new(dec!(0)).is_ok());
        assert!(Percent::new(dec!(100)).is_ok());
        assert!(Percent::new(dec!(100.01)).is_err());
        assert!(Percent::new(dec!(-0.5)).is_err());
        assert!(serde_json::from_str::<Percent>("\"17.88\"").is_ok());
        assert!(serde_json::from_str::<Percent>("\"170\"").is_err());
    }

    #[test]
    fn credit_rejects_non_positive_also_when_deserialized() {
        let tx = TransactionId::new("t").unwrap();
        assert!(Credit::new(dec!(0), tx.clone(), None).is_err());
        assert!(Credit::new(dec!(1), tx, Some(Duration::ZERO)).is_err());
        let bad = r#"{"amount":"-5","transaction_id":"t"}"#;
        assert!(serde_json::from_str::<Credit>(bad).is_err());
        let ok = r#"{"amount":"5.50","transaction_id":"t","lifetime":"1day"}"#;
        let c: Credit = serde_json::from_str(ok).unwrap();
        assert_eq!(c.lifetime(), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn reduce_drops_only_set_values_that_are_not_held() {
        let points_only = BalanceFields {
            points: true,
            ..BalanceFields::NONE
        };
        let full = BalanceUpdate::from(Balance::default());
        let (sent, dropped) = points_only.reduce(full);
        assert_eq!(sent.points, Some(Decimal::ZERO));
        assert!(sent.bonus_percent.is_none() && sent.discount_percent.is_none());
        assert_eq!(dropped, ["bonus_percent", "discount_percent"]);
        let (_, none) = points_only.reduce(BalanceUpdate {
            points: Some(dec!(1)),
            ..Default::default()
        });
        assert!(none.is_empty());
        assert_eq!(BalanceFields::ALL.reduce(full), (full, vec![]));
        assert!(BalanceFields::NONE.is_empty());
        assert_eq!(points_only.held(), ["points"]);
    }

    #[test]
    fn update_applies_only_what_is_set() {
        let mut b = Balance::default();
        BalanceUpdate {
            points: Some(dec!(150.250)),
            ..Default::default()
        }
        .apply(&mut b);
        assert_eq!(b.points.to_string(), "150.25");
        assert_eq!(b.bonus_percent, Percent::default());
    }
}
