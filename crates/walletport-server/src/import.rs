//! CSV import of customers into the store, out through the outbox: the rules `walletport sync
//! --csv` applies, here so that every front end (the CLI, the gateway) imports alike.
//!
//! Every row is written with its outbox items in one go, so the worker syncs each customer with
//! ONE vendor request however many columns changed. Re-running is safe and cheap: a row whose
//! data is already stored changes nothing (the balance is set under the transaction id
//! `import:<phone>:<balance>`, which the ledger applies exactly once). Bad rows are reported with
//! their line numbers and skipped; an import never aborts on a row.

use std::io::Read;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use walletport_core::{Customer, CustomerKey, Error, Percent, Phone, Result, TransactionId};
use walletport_store::{LedgerOp, Percentages, SetPoints, Store, WriteOpts};

fn bad(message: impl Into<String>) -> Error {
    Error::invalid_input(message)
}

/// The columns a CSV may have (header names, case-insensitive).
pub const COLUMNS: &[&str] = &[
    "phone",
    "name",
    "surname",
    "middle_name",
    "email",
    "birthday",
    "balance",
    "bonus",
    "discount",
];

/// At most this many bad rows are listed in the output (all are counted).
pub const MAX_LISTED_ERRORS: usize = 200;

/// One valid CSV row: the customer, and the balance and percentages it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The customer data.
    pub customer: Customer,
    /// Points to set, if the row has a balance.
    pub balance: Option<Decimal>,
    /// Bonus / discount percentages to set.
    pub percentages: Percentages,
}

/// The column positions of a CSV header, checked: only known columns, `phone` required.
pub fn column_index(headers: &csv::StringRecord) -> Result<Vec<Option<usize>>> {
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace(['-', ' '], "_"))
        .map(|h| {
            if h == "middlename" {
                "middle_name".into()
            } else {
                h
            }
        })
        .collect();
    if let Some(unknown) = names.iter().find(|n| !COLUMNS.contains(&n.as_str())) {
        return Err(bad(format!(
            "unknown CSV column `{unknown}`; known: {}",
            COLUMNS.join(", ")
        )));
    }
    if !names.iter().any(|n| n == "phone") {
        return Err(bad("the CSV header has no `phone` column"));
    }
    Ok(COLUMNS
        .iter()
        .map(|c| names.iter().position(|n| n == c))
        .collect())
}

fn parse_date(raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
        .map_err(|_| bad(format!("birthday `{raw}` is not YYYY-MM-DD or DD.MM.YYYY")))
}

fn parse_decimal(raw: &str, what: &str) -> Result<Decimal> {
    raw.replace(',', ".")
        .parse::<Decimal>()
        .map_err(|_| bad(format!("{what} `{raw}` is not a number")))
}

/// Reads one record into a row, or says what is wrong with it.
pub fn parse_row(record: &csv::StringRecord, index: &[Option<usize>]) -> Result<Row> {
    let get = |column: usize| {
        index[column]
            .and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let phone = get(0).ok_or_else(|| bad("phone is empty"))?;
    let mut customer = Customer::new(Phone::parse(phone)?);
    customer.name = get(1).map(str::to_owned);
    customer.surname = get(2).map(str::to_owned);
    customer.middle_name = get(3).map(str::to_owned);
    customer.email = get(4).map(str::to_owned);
    customer.birthday = get(5).map(parse_date).transpose()?;
    customer.validate()?;
    // Checked here, with the ledger's own rule, so that a refused row writes nothing.
    let balance = get(6)
        .map(|v| SetPoints::check(parse_decimal(v, "balance")?))
        .transpose()?;
    let pct = |column: usize, what: &str| -> Result<Option<Percent>> {
        get(column)
            .map(|v| Percent::new(parse_decimal(v, what)?))
            .transpose()
    };
    Ok(Row {
        customer,
        balance,
        percentages: Percentages {
            bonus: pct(7, "bonus")?,
            discount: pct(8, "discount")?,
        },
    })
}

/// Writes one row; `Ok(true)` when anything changed.
pub async fn import_row(store: &dyn Store, row: &Row) -> Result<bool> {
    let opts = WriteOpts::now();
    // Built before the first write: a row that cannot be set changes nothing.
    let set_points = row
        .balance
        .map(|points| {
            let points = points.normalize();
            let tx = TransactionId::new(format!("import:{}:{points}", row.customer.phone))?;
            SetPoints::new(points, tx)
        })
        .transpose()?;
    let up = store.upsert_customer(&row.customer, opts).await?;
    let mut changed = up.changed;
    let p = row.percentages;
    if p.bonus.is_some() || p.discount.is_some() {
        let stored = store
            .get_customer(&CustomerKey::Id(up.id.clone()))
            .await?
            .ok_or_else(|| Error::unexpected("the customer just written is gone"))?;
        let differs = p.bonus.is_some_and(|b| b != stored.bonus_percent)
            || p.discount.is_some_and(|d| d != stored.discount_percent);
        if differs {
            store.set_percentages(&up.id, p, opts).await?;
            changed = true;
        }
    }
    if let Some(set) = set_points {
        let outcome = store.apply(&up.id, &LedgerOp::Set(set), opts).await?;
        changed |= outcome.applied;
    }
    Ok(changed)
}

/// A row that was not imported, with its line in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// The 1-based line of the record.
    pub line: u64,
    /// What is wrong with it.
    pub error: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Records read (the header excluded).
    pub rows: u64,
    /// Rows that changed the store.
    pub imported: u64,
    /// Rows whose data was already stored.
    pub unchanged: u64,
    /// Rows refused.
    pub bad: u64,
    /// The first [`MAX_LISTED_ERRORS`] refused rows.
    pub errors: Vec<BadRow>,
}

/// Imports a whole CSV from `input`; `on_row` sees each record's outcome as it is written (for
/// progress). Fails only when the header is unusable or the store fails for every row alike.
pub async fn import_csv<R: Read>(
    store: &dyn Store,
    input: R,
    mut on_row: impl FnMut(&Result<bool>, u64),
) -> Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the CSV header: {e}")))?
        .clone();
    let index = column_index(&headers)?;
    let mut report = ImportReport::default();
    for record in reader.records() {
        let line = match &record {
            Ok(r) => r.position().map_or(0, |p| p.line()),
            Err(e) => e.position().map_or(0, |p| p.line()),
        };
        let result = match record {
            Ok(record) => match parse_row(&record, &index) {
                Ok(row) => import_row(store, &row).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(bad(format!("unreadable row: {e}"))),
        };
        report.rows += 1;
        match &result {
            Ok(true) => report.imported += 1,
            Ok(false) => report.unchanged += 1,
            Err(e) => {
                report.bad += 1;
                if report.errors.len() < MAX_LISTED_ERRORS {
                    report.errors.push(BadRow {
                        line,
                        error: e.message().to_owned(),
                    });
                }
            }
        }
        on_row(&result, line);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_row_writes_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("i.db").display());
        let store = walletport_store::connect(&url).await.expect("store");
        let csv = "phone,name,balance,bonus\n\
                   +420200000001,Ok,10,5\n\
                   +420200000002,Huge,10000000000000,5\n\
                   +420200000003,Negative,-1,5\n\
                   +420200000004,Fine,0.000000000000000000001,5\n";
        let report = import_csv(store.as_ref(), csv.as_bytes(), |_, _| {})
            .await
            .expect("import");
        assert_eq!((report.imported, report.bad), (1, 3), "{report:?}");
        assert_eq!(
            report.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        for phone in ["+420200000002", "+420200000003", "+420200000004"] {
            let key = CustomerKey::Phone(Phone::parse(phone).expect("phone"));
            let stored = store.get_customer(&key).await.expect("read");
            assert!(stored.is_none(), "the refused row {phone} left a customer");
        }
    }
}
