//! Any variable name and value survive both body encodings: encoded by the adapter, decoded by
//! independent decoders (`url`'s form parser, `multer` inside the emulator), the emulator sees
//! exactly the variables that were sent — `%`, `[`, `]`, `&`, `=`, `+`, Cyrillic and line breaks
//! included.

use proptest::prelude::*;
use walletport_passteam::BodyEncoding;
use walletport_passteam::config::check_variable_name;
use walletport_passteam::encoding::{FormBody, parse_variable_key};
use walletport_sandbox::passteam::{decode_multipart, variable_name};

fn decode(content_type: &str, body: bytes::Bytes) -> Vec<(String, String)> {
    if content_type.starts_with("multipart/form-data") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(decode_multipart(content_type, body))
            .unwrap_or_else(|e| panic!("{e}"))
    } else {
        url::form_urlencoded::parse(&body).into_owned().collect()
    }
}

/// Names: anything a variable name may hold (no control characters, no `"`), biased towards
/// the characters the document warns about.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec!['%', '[', ']', '&', '=', '+', ' ', ';', 'Я', 'ж', '_', '\\', '/', '?', '#']),
            5 => any::<char>().prop_filter("printable, no quote", |c| !c.is_control() && *c != '"'),
        ],
        1..24,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "%", "[", "]", "&", "=", "+", "\r\n", "--", "Иван", "%25", "%5B"
            ]),
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn variables_round_trip_through_both_encodings(
        vars in prop::collection::vec((name(), value()), 1..6),
        card in "[0-9a-f]{24}",
    ) {
        let mut body = FormBody::new().field("cardId", card.clone());
        for (n, v) in &vars {
            prop_assert!(check_variable_name(n).is_ok());
            body.push_variable(n, v.clone());
        }
        for encoding in [BodyEncoding::Form, BodyEncoding::Multipart] {
            let (content_type, bytes) = body.encode(encoding);
            let fields = decode(&content_type, bytes);
            prop_assert_eq!(&fields, &body.fields().to_vec(), "{:?}", encoding);
            prop_assert_eq!(fields[0].clone(), ("cardId".to_owned(), card.clone()));
            let decoded: Vec<(String, String)> = fields[1..]
                .iter()
                .map(|(k, v)| (variable_name(k).unwrap_or_default().to_owned(), v.clone()))
                .collect();
            prop_assert_eq!(&decoded, &vars, "the emulator reads the variables back");
            for (k, _) in &fields[1..] {
                prop_assert!(parse_variable_key(k).is_some());
            }
        }
    }
}
