//! Templates: listing and reading, creating and updating.

use walletport_core::{
    CreateTemplate, ErrorKind, FieldKind, GetTemplate, ListTemplates, Provider, Template,
    TemplateField, TemplateId, UpdateTemplate, op,
};

use super::expect_error;
use crate::report::{CheckError, CheckResult, Context};
use crate::suite::Suite;

/// Listed templates can be read by id; the configured template exists; unknown ids are
/// `NotFound`.
pub async fn templates_list_and_get(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["template_list", "template_get"])?;
    let page = provider
        .templates()
        .list_templates(ListTemplates::default())
        .await
        .context("list")?;
    if let Some(first) = page.items.first() {
        let got = provider
            .templates()
            .get_template(GetTemplate {
                id: first.id.clone(),
            })
            .await
            .context("get the first listed template")?;
        ensure!(
            got.id.as_ref() == Some(&first.id),
            "get {} returned id {:?}",
            first.id,
            got.id
        );
        ensure!(
            got.name == first.name,
            "listed as {:?}, read as {:?}",
            first.name,
            got.name
        );
    }
    if let Some(id) = &suite.options().template {
        let got = provider
            .templates()
            .get_template(GetTemplate { id: id.clone() })
            .await
            .context("get the configured template")?;
        ensure!(
            got.id.as_ref() == Some(id),
            "get {id} returned id {:?}",
            got.id
        );
    }
    let ghost = TemplateId::new(format!("{}-no-such-template", suite.options().prefix))?;
    let result = provider
        .templates()
        .get_template(GetTemplate { id: ghost })
        .await;
    expect_error(
        suite,
        result,
        ErrorKind::NotFound,
        op::TEMPLATE_GET,
        "an unknown template",
    )
}

/// A created template gets an id and reads back; where supported, an update is read back too.
pub async fn template_create_and_update(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["template_create", "template_get"])?;
    let template = Template {
        id: None,
        name: suite.name("template"),
        layout: None,
        fields: vec![TemplateField {
            name: "LEVEL".to_owned(),
            title: Some("Level".to_owned()),
            kind: FieldKind::Text,
            required: false,
            unique: false,
        }],
        settings: Default::default(),
    };
    let created = provider
        .templates()
        .create_template(CreateTemplate {
            template: template.clone(),
        })
        .await
        .context("create")?;
    let id = created
        .id
        .clone()
        .ok_or_else(|| CheckError::Failed("the created template has no id".to_owned()))?;
    let got = read_back(provider, id.clone(), "created", &template.name).await?;
    if !suite.has("template_update") {
        return Ok(());
    }
    let renamed = Template {
        id: Some(id.clone()),
        name: suite.name("renamed template"),
        ..got
    };
    provider
        .templates()
        .update_template(UpdateTemplate {
            template: renamed.clone(),
        })
        .await
        .context("update")?;
    read_back(provider, id, "updated", &renamed.name)
        .await
        .map(drop)
}

/// Reads template `id` back after it was `what` (created, updated) and fails unless it is
/// named `name`.
async fn read_back(
    provider: &dyn Provider,
    id: TemplateId,
    what: &str,
    name: &str,
) -> Result<Template, CheckError> {
    let got = provider
        .templates()
        .get_template(GetTemplate { id })
        .await
        .context(&format!("get the {what} template"))?;
    ensure!(got.name == name, "{what} {name:?}, read {:?}", got.name);
    Ok(got)
}
