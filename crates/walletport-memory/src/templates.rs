//! `TemplatePort`: list (paged by id), get, create, update.

use std::collections::BTreeSet;

use async_trait::async_trait;
use walletport_core::{
    CreateTemplate, Error, GetTemplate, ListTemplates, Page, PageCursor, Result, Template,
    TemplateId, TemplatePort, TemplateSummary, UpdateTemplate,
};

use crate::config::MAX_PAGE_SIZE;
use crate::{MAX_FIELDS, MemoryProvider};

#[async_trait]
impl TemplatePort for MemoryProvider {
    async fn list_templates(&self, input: ListTemplates) -> Result<Page<TemplateSummary>> {
        let size = input.page_size.unwrap_or(self.page_size);
        if size == 0 {
            return Err(Error::invalid_input("page size must be at least 1"));
        }
        let size = size.min(MAX_PAGE_SIZE) as usize;
        let after = input
            .cursor
            .map(|PageCursor(c)| TemplateId::new(c))
            .transpose()
            .map_err(|_| Error::invalid_input("invalid page cursor"))?;
        self.read(|state, _| {
            let mut rest = state
                .templates
                .iter()
                .filter(|(id, _)| after.as_ref().is_none_or(|after| *id > after))
                .peekable();
            let mut items = Vec::with_capacity(size);
            while items.len() < size {
                let Some((id, template)) = rest.next() else {
                    break;
                };
                items.push(TemplateSummary {
                    id: id.clone(),
                    name: template.name.clone(),
                });
            }
            let next = match (rest.peek(), items.last()) {
                (Some(_), Some(last)) => Some(PageCursor(last.id.to_string())),
                _ => None,
            };
            Ok(Page {
                items,
                next,
                total: Some(state.templates.len() as u64),
            })
        })
    }

    async fn get_template(&self, input: GetTemplate) -> Result<Template> {
        self.read(|state, _| state.template(&input.id).cloned())
    }

    async fn create_template(&self, input: CreateTemplate) -> Result<Template> {
        let mut template = input.template;
        check_template(&template)?;
        self.write(|state, _| {
            let id = loop {
                let n = state.next_template;
                state.next_template += 1;
                let id = TemplateId::new(format!("template-{n}"))?;
                if !state.templates.contains_key(&id) {
                    break id;
                }
            };
            template.id = Some(id.clone());
            state.templates.insert(id, template.clone());
            Ok(template)
        })
    }

    async fn update_template(&self, input: UpdateTemplate) -> Result<Template> {
        let template = input.template;
        let id = template
            .id
            .clone()
            .ok_or_else(|| Error::invalid_input("template id is required to update"))?;
        check_template(&template)?;
        self.write(|state, _| {
            let slot = state
                .templates
                .get_mut(&id)
                .ok_or_else(|| Error::not_found(format!("no template {id}")))?;
            *slot = template.clone();
            Ok(template)
        })
    }
}

/// A name, at most [`MAX_FIELDS`] fields with unique non-empty names.
fn check_template(template: &Template) -> Result<()> {
    if template.name.trim().is_empty() || template.name.chars().count() > 256 {
        return Err(Error::invalid_input(
            "template name must be 1 to 256 characters",
        ));
    }
    if template.fields.len() > MAX_FIELDS as usize {
        return Err(Error::invalid_input(format!(
            "a template has at most {MAX_FIELDS} fields"
        )));
    }
    let mut names = BTreeSet::new();
    for field in &template.fields {
        if field.name.trim().is_empty() || field.name.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "template field names must be printable and non-empty",
            ));
        }
        if !names.insert(field.name.as_str()) {
            return Err(Error::invalid_input(format!(
                "template field `{}` appears twice",
                field.name
            )));
        }
    }
    Ok(())
}
