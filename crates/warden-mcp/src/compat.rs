//! Adapting a result to the protocol revision in use.
//!
//! Results are built once, with the members of the newest revision. For 2026-07-28 a result gets
//! `resultType: "complete"`; for a legacy revision, members it does not know are removed (or, for
//! a `resource_link` block before 2025-06-18, turned into a text block), so that every message
//! validates against the schema of the negotiated revision.

use serde_json::{Map, Value, json};

use crate::version::{Era, ProtocolVersion};

const V0618: ProtocolVersion = ProtocolVersion::V2025_06_18;
const V1125: ProtocolVersion = ProtocolVersion::V2025_11_25;

/// Adapts a result object (the `result` member of a response) to `version`, in place.
///
/// - 2026-07-28: adds `resultType: "complete"` when the result has no `resultType`.
/// - legacy revisions: removes `resultType`, `ttlMs` and `cacheScope`, capability `extensions`;
///   before 2025-11-25, `icons`, `execution`, implementation `description`/`websiteUrl` and the
///   `tasks` capability; before 2025-06-18, `title` (except in tool annotations, which always had
///   it), `outputSchema`, `structuredContent`, `_meta` of items and `annotations.lastModified`.
///   `structuredContent` that is not an object and an `outputSchema` whose root type is not
///   `object` (both allowed only by 2026-07-28) are removed for every legacy revision.
///
/// Anything that is not an object is left unchanged.
pub fn adapt_result(version: ProtocolVersion, result: &mut Value) {
    let Value::Object(result) = result else {
        return;
    };
    if version.era() == Era::Modern {
        result
            .entry("resultType")
            .or_insert_with(|| json!("complete"));
        return;
    }
    for key in ["resultType", "ttlMs", "cacheScope"] {
        result.remove(key);
    }
    for_each_object(result.get_mut("tools"), |tool| adapt_tool(version, tool));
    for_each_object(result.get_mut("resources"), |r| adapt_item(version, r));
    for_each_object(result.get_mut("resourceTemplates"), |r| {
        adapt_item(version, r);
    });
    for_each_object(result.get_mut("prompts"), |p| {
        adapt_item(version, p);
        for_each_object(p.get_mut("arguments"), |a| adapt_item(version, a));
    });
    for_each_object(result.get_mut("contents"), |c| adapt_item(version, c));
    if let Some(Value::Array(blocks)) = result.get_mut("content") {
        for block in blocks.iter_mut() {
            adapt_content(version, block);
        }
    }
    let keep_structured =
        version >= V0618 && result.get("structuredContent").is_none_or(Value::is_object);
    if !keep_structured {
        result.remove("structuredContent");
    }
    if let Some(Value::Array(messages)) = result.get_mut("messages") {
        for message in messages.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(content) = message.get_mut("content") {
                adapt_content(version, content);
            }
        }
    }
    if let Some(Value::Object(info)) = result.get_mut("serverInfo") {
        adapt_implementation(version, info);
    }
    if let Some(Value::Object(caps)) = result.get_mut("capabilities") {
        caps.remove("extensions");
        if version < V1125 {
            caps.remove("tasks");
        }
    }
}

fn for_each_object(list: Option<&mut Value>, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(Value::Array(items)) = list {
        items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(&mut f);
    }
}

/// Members shared by tools, resources, templates, prompts, links and contents.
fn adapt_item(version: ProtocolVersion, item: &mut Map<String, Value>) {
    if version < V1125 {
        item.remove("icons");
    }
    if version < V0618 {
        item.remove("title");
        item.remove("_meta");
    }
    if let Some(Value::Object(annotations)) = item.get_mut("annotations") {
        adapt_annotations(version, annotations);
    }
}

fn adapt_annotations(version: ProtocolVersion, annotations: &mut Map<String, Value>) {
    if version < V0618 {
        annotations.remove("lastModified");
    }
}

fn adapt_tool(version: ProtocolVersion, tool: &mut Map<String, Value>) {
    if version < V1125 {
        tool.remove("icons");
        tool.remove("execution");
    }
    if version < V0618 {
        tool.remove("title");
        tool.remove("_meta");
        tool.remove("outputSchema");
    }
    let object_output = tool
        .get("outputSchema")
        .is_none_or(|schema| schema.get("type").and_then(Value::as_str) == Some("object"));
    if !object_output {
        tool.remove("outputSchema");
    }
    // Tool annotations (including their title) exist in every revision: nothing to remove.
}

fn adapt_implementation(version: ProtocolVersion, info: &mut Map<String, Value>) {
    if version < V1125 {
        for key in ["icons", "description", "websiteUrl"] {
            info.remove(key);
        }
    }
    if version < V0618 {
        info.remove("title");
    }
}

fn adapt_content(version: ProtocolVersion, block: &mut Value) {
    let Value::Object(map) = block else { return };
    let is_link = map.get("type").and_then(Value::as_str) == Some("resource_link");
    if is_link && version < V0618 {
        *block = link_as_text(map);
        return;
    }
    adapt_item(version, map);
    if let Some(Value::Object(resource)) = map.get_mut("resource") {
        adapt_item(version, resource);
    }
}

/// A `resource_link` block as a text block, for revisions without resource links.
fn link_as_text(link: &Map<String, Value>) -> Value {
    let field = |key: &str| link.get(key).and_then(Value::as_str).unwrap_or_default();
    let mut text = format!("Resource: {} <{}>", field("name"), field("uri"));
    let description = field("description");
    if !description.is_empty() {
        text.push_str(" — ");
        text.push_str(description);
    }
    json!({ "type": "text", "text": text })
}
