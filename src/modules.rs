//! The module catalogue: `modules/<name>/module.yaml` plus handlebars templates.
//!
//! A module declares its inputs (checked with [`crate::schema`]), the modules it needs,
//! and one template that renders the org's inputs into typed resources. Templates run
//! in strict mode so a misspelt variable is an error, not an empty string.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::diag::Problem;
use crate::resource::{Rendered, Resource};
use crate::schema::Schema;

pub const MODULE_FILE: &str = "module.yaml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleSpec {
    pub description: String,
    /// Modules that must be enabled for the org too, and are applied first.
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub inputs: BTreeMap<String, Schema>,
    /// The module's whole value, for a module that is not a mapping of inputs (a list
    /// of backup jobs). Templates see it as `inputs`.
    #[serde(default)]
    pub input: Option<Schema>,
    /// The template, relative to the module folder.
    pub template: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Module {
    pub name: String,
    pub spec: ModuleSpec,
    /// The inputs as one object schema, built once.
    pub input_schema: Schema,
    /// Whether the template names `inputs` in an expression: only then is a second
    /// copy of the inputs put in its context under that name.
    pub uses_inputs: bool,
}

/// Whether any `{{...}}` expression of a template (comments aside) names `inputs`.
fn names_inputs(template: &str) -> bool {
    template.split("{{").skip(1).any(|rest| {
        let expr = rest.split("}}").next().unwrap_or("");
        !expr.starts_with('!')
            && expr
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == "inputs")
    })
}

impl ModuleSpec {
    fn input_schema(&self) -> Schema {
        if let Some(whole) = &self.input {
            return whole.clone();
        }
        Schema {
            ty: crate::schema::Type::Object,
            description: None,
            required: false,
            default: None,
            one_of: None,
            items: None,
            fields: Some(self.inputs.clone()),
            values: None,
            unique: None,
            label: None,
            in_org_domain: false,
            min: None,
            max: None,
            format: None,
            when_missing: None,
            only_if: None,
            values_only_if: None,
            key_of: None,
        }
    }
}

/// A module's settings and resources, or why it could not be rendered.
pub type RenderResult = Result<(Map<String, Value>, Vec<Resource>), ModuleError>;

/// What a module's template produces for one org.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderedModule {
    /// Provider settings such as the leaver policy, keyed by setting name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub settings: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<Rendered>,
}

/// A template whose `{{#each}}` rendered nothing leaves `resources:` with no value,
/// which YAML reads as null: that means "none", not an error.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub struct Catalogue {
    pub modules: BTreeMap<String, Module>,
    registry: Handlebars<'static>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue")
            .field("modules", &self.modules.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("module `{module}`: template failed: {message}")]
    Template { module: String, message: String },
    #[error("module `{module}`: template output is not valid: {message}")]
    Output { module: String, message: String },
}

/// Renders a value as JSON, which is also a valid YAML flow scalar: templates use
/// `{{json x}}` so no input can break out of the YAML it is placed in.
fn json_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    let text = serde_json::to_string(value.value())
        .map_err(|e| RenderErrorReason::Other(e.to_string()))?;
    out.write(&text)?;
    Ok(())
}

/// `{{#text}}...{{/text}}`: renders its block and writes it as one JSON string, so a
/// module can keep a whole configuration file readable in its template. The line
/// break right after `{{#text}}` is not part of the text; put `{{/text}}` on a line
/// of its own.
struct TextHelper;

impl handlebars::HelperDef for TextHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let mut body = handlebars::StringOutput::new();
        if let Some(t) = h.template() {
            handlebars::Renderable::render(t, r, ctx, rc, &mut body)?;
        }
        let body = body
            .into_string()
            .map_err(|e| RenderErrorReason::Other(e.to_string()))?;
        let body = body.strip_prefix('\n').unwrap_or(&body);
        let text =
            serde_json::to_string(body).map_err(|e| RenderErrorReason::Other(e.to_string()))?;
        // `{{/text}}` alone on its line takes its line break with it (handlebars'
        // standalone rule): give it back, so the next YAML line starts on its own.
        out.write(&text)?;
        out.write("\n")?;
        Ok(())
    }
}

/// `{{secret passphrase}}`: where file content needs a secret input's value. It
/// renders a placeholder naming the secret; the value is filled in only on its way to
/// the host, so plans and diffs never hold it.
fn secret_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let value = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("secret", 0))?;
    let name = value
        .value()
        .as_str()
        .and_then(crate::secrets::reference)
        .ok_or_else(|| {
            RenderErrorReason::Other(format!(
                "`secret` needs a `secret:NAME` input, got {}",
                value.value()
            ))
        })?;
    out.write(&crate::secrets::placeholder(name))?;
    Ok(())
}

// `{{email "staff" org.domain}}` -> "staff@riversidefood.org"; full addresses pass through.
handlebars::handlebars_helper!(email_helper: |name: str, domain: str| {
    if name.contains('@') { name.to_ascii_lowercase() } else { format!("{}@{}", name.to_ascii_lowercase(), domain) }
});

// `{{concat "users." @index}}`: the params' text joined, for building `source` paths.
handlebars::handlebars_helper!(concat_helper: |*args| args
    .iter()
    .map(|v| match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    })
    .collect::<String>());

// `{{concat "line" (nl)}}`: a line break, for building file content in `json`.
handlebars::handlebars_helper!(nl_helper: | | "\n");

// `(coalesce a b c)`: the first argument that is set (not null, empty text or list).
handlebars::handlebars_helper!(coalesce_helper: |*args| args
    .iter()
    .find(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    })
    .map_or(Value::Null, |v| (*v).clone()));

// `(get obj "a" "b")`: `obj.a.b`, or null when any step is missing (where a plain path
// would fail in strict mode: an optional field, a role that may not be there).
handlebars::handlebars_helper!(get_helper: |*args| {
    // Walked by reference: only what is found is copied (a template asks for one field
    // of a large object, once per person).
    let mut it = args.iter();
    let mut cur: Option<&Value> = it.next().copied();
    for key in it {
        cur = match (cur, key) {
            (Some(Value::Object(m)), Value::String(k)) => m.get(k),
            _ => None,
        };
    }
    cur.cloned().unwrap_or(Value::Null)
});

// `(without a b)`: the items of list `a` not in list `b`, each once, in order (either
// may be null).
handlebars::handlebars_helper!(without_helper: |a: Value, b: Value| {
    let drop: Vec<Value> = b.as_array().cloned().unwrap_or_default();
    let mut out: Vec<Value> = Vec::new();
    for v in a.as_array().into_iter().flatten() {
        if !drop.contains(v) && !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
});

// `{{#each (list "cups" "cups-client")}}`: its params as a list.
handlebars::handlebars_helper!(list_helper: |*args| args
    .into_iter()
    .cloned()
    .collect::<Vec<Value>>());

impl Catalogue {
    /// Loads every module under `dir`. Problems in module files are collected, not fatal
    /// to the others.
    pub fn load(dir: &Path) -> (Catalogue, Vec<Problem>) {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("json", Box::new(json_helper));
        registry.register_helper("email", Box::new(email_helper));
        registry.register_helper("concat", Box::new(concat_helper));
        registry.register_helper("list", Box::new(list_helper));
        registry.register_helper("coalesce", Box::new(coalesce_helper));
        registry.register_helper("get", Box::new(get_helper));
        registry.register_helper("without", Box::new(without_helper));
        registry.register_helper("nl", Box::new(nl_helper));
        registry.register_helper("text", Box::new(TextHelper));
        registry.register_helper("secret", Box::new(secret_helper));
        let mut modules = BTreeMap::new();
        let mut problems = Vec::new();
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                problems.push(Problem::new(
                    "modules_dir",
                    format!("cannot read the modules folder {}: {e}", dir.display()),
                ));
                Vec::new()
            }
        };
        entries.sort();
        for path in entries {
            let spec_path = path.join(MODULE_FILE);
            if !spec_path.is_file() {
                continue;
            }
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            // A module's files stay in its folder: a template may not be /etc/passwd
            // or a secret, nor a link to one.
            let text = match crate::util::read_inside(&spec_path, &path, &spec_path) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(Problem::new("module_file", e.to_string()));
                    continue;
                }
            };
            let spec: ModuleSpec = match serde_yaml::from_str(&text) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(*crate::pool::yaml_problem(&spec_path, &text, &e));
                    continue;
                }
            };
            if let Some(fields) = spec.input_schema().nested()
                && let Err(message) = crate::schema::check_conditions(fields)
            {
                problems.push(Problem::new(
                    "module_file",
                    format!("{}: {message}", spec_path.display()),
                ));
                continue;
            }
            let template_path = path.join(&spec.template);
            let uses_inputs;
            match crate::util::read_inside(&template_path, &path, &template_path) {
                Ok(t) => {
                    uses_inputs = names_inputs(&t);
                    if let Err(e) = registry.register_template_string(&name, t) {
                        problems.push(Problem::new(
                            "module_template",
                            format!("{}: {e}", template_path.display()),
                        ));
                        continue;
                    }
                }
                Err(e) => {
                    problems.push(Problem::new("module_template", e.to_string()));
                    continue;
                }
            }
            modules.insert(
                name.clone(),
                Module {
                    name,
                    input_schema: spec.input_schema(),
                    uses_inputs,
                    spec,
                },
            );
        }
        (Catalogue { modules, registry }, problems)
    }

    pub fn get(&self, name: &str) -> Option<&Module> {
        self.modules.get(name)
    }

    /// Renders one module for one org. `context` holds `org`, and the module's checked
    /// inputs under `inputs` (also spread at the top level for short templates).
    /// The inputs are lent: they come back with the result, whatever it is.
    pub fn render(&self, module: &Module, org: Value, inputs: Value) -> (RenderResult, Value) {
        // An object's fields are spread at the top level, and copied under `inputs`
        // only for a template that names it; a list is `inputs` itself.
        let object = inputs.is_object();
        // `org` and `inputs` are the context's own names: an input may not take them.
        if inputs
            .as_object()
            .is_some_and(|m| m.contains_key("org") || m.contains_key("inputs"))
        {
            return (
                Err(ModuleError::Template {
                    module: module.name.clone(),
                    message: "module inputs may not be named `org` or `inputs`".into(),
                }),
                inputs,
            );
        }
        let mut ctx = match inputs {
            Value::Object(m) => {
                let copy = module.uses_inputs.then(|| Value::Object(m.clone()));
                let mut ctx = m;
                if let Some(copy) = copy {
                    ctx.insert("inputs".into(), copy);
                }
                ctx
            }
            other => {
                let mut ctx = Map::new();
                ctx.insert("inputs".into(), other);
                ctx
            }
        };
        ctx.insert("org".into(), org);
        // An owned context: `render` would serialize it into a copy first.
        let mut ctx = handlebars::Context::from(Value::Object(ctx));
        let result = if many_items(ctx.data()) {
            self.render_beside_parser(module, &ctx)
        } else {
            match self.registry.render_with_context(&module.name, &ctx) {
                Ok(text) => self.finish(module, text.chars()),
                Err(e) => Err(ModuleError::Template {
                    module: module.name.clone(),
                    message: e.to_string(),
                }),
            }
        };
        // Give the inputs back as they were lent.
        let inputs = match std::mem::take(ctx.data_mut()) {
            Value::Object(mut m) => {
                m.remove("org");
                let list = m.remove("inputs");
                match list {
                    Some(list) if !object => list,
                    _ => Value::Object(m),
                }
            }
            other => other,
        };
        (result, inputs)
    }

    /// Renders while another thread parses what the template has written so far: on a
    /// large org the two take about as long as each other, and the rendered text never
    /// exists whole. (For a small org a second thread costs more than it saves.)
    fn render_beside_parser(&self, module: &Module, ctx: &Context) -> RenderResult {
        let (rendered, parsed, closed) = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<char>>(4);
            let parser = s.spawn(move || self.finish(module, rx.into_iter().flatten()));
            let mut pipe = Pipe {
                buf: Vec::with_capacity(PIPE_CHUNK + 1024),
                tx,
                closed: false,
            };
            let rendered = self
                .registry
                .render_with_context_to_write(&module.name, ctx, &mut pipe)
                .map_err(|e| e.to_string())
                .and_then(|()| pipe.finish().map_err(|e| e.to_string()));
            let closed = pipe.closed;
            drop(pipe);
            let parsed = parser
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (rendered, parsed, closed)
        });
        match rendered {
            Ok(()) => parsed,
            // The parser stopped reading at a mistake in the output: that is the error.
            Err(_) if closed && parsed.is_err() => parsed,
            Err(message) => Err(ModuleError::Template {
                module: module.name.clone(),
                message,
            }),
        }
    }

    /// Parses a module's rendered text, as it arrives, into its settings and resources.
    fn finish(&self, module: &Module, text: impl Iterator<Item = char>) -> RenderResult {
        let output_error = |message: String| ModuleError::Output {
            module: module.name.clone(),
            message,
        };
        // Resources are converted one by one as the parser completes them: the whole
        // rendered list never exists as one JSON tree.
        let prefix = format!("modules.{}", module.name);
        let mut resources = Vec::new();
        let tree = {
            let mut on_item = |item: Value| -> Result<(), String> {
                let r: crate::resource::Rendered =
                    serde_json::from_value(item).map_err(|e| format!("a resource: {e}"))?;
                let r =
                    Resource::from_rendered(&module.name, &prefix, r).map_err(|e| e.to_string())?;
                resources.push(r);
                Ok(())
            };
            crate::yaml::parse_json_chars(text, Some(("resources", &mut on_item))).map_err(|e| {
                output_error(format!(
                    "{} at line {} column {} of the rendered output",
                    e.message, e.line, e.column
                ))
            })?
        };
        let rendered: RenderedModule =
            serde_json::from_value(tree).map_err(|e| output_error(e.to_string()))?;
        Ok((rendered.settings, resources))
    }
}

/// Whether a render context holds lists long enough to be worth a parser thread.
fn many_items(context: &Value) -> bool {
    const MANY: usize = 2_000;
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    match context {
        Value::Object(m) => m.values().map(len).sum::<usize>() >= MANY,
        other => len(other) >= MANY,
    }
}

/// How much rendered text goes to the parser at a time.
const PIPE_CHUNK: usize = 64 * 1024;

/// Carries a template's output to the parser thread in chunks of whole characters.
struct Pipe {
    buf: Vec<u8>,
    tx: std::sync::mpsc::SyncSender<Vec<char>>,
    /// The parser stopped reading (it found a mistake).
    closed: bool,
}

impl Pipe {
    /// Sends every whole character buffered so far.
    fn send(&mut self) -> std::io::Result<()> {
        let whole = match std::str::from_utf8(&self.buf) {
            Ok(text) => text.len(),
            Err(e) => e.valid_up_to(),
        };
        let chars: Vec<char> = String::from_utf8_lossy(&self.buf[..whole])
            .chars()
            .collect();
        self.buf.drain(..whole);
        if self.tx.send(chars).is_err() {
            self.closed = true;
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        Ok(())
    }

    /// Sends the rest; the output must end on a whole character.
    fn finish(&mut self) -> std::io::Result<()> {
        self.send()?;
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the rendered output ends inside a UTF-8 character",
            ))
        }
    }
}

impl std::io::Write for Pipe {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= PIPE_CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_expressions_that_name_inputs_count() {
        assert!(super::names_inputs("{{#each inputs}}x{{/each}}"));
        assert!(super::names_inputs("{{json inputs.a}}"));
        assert!(!super::names_inputs(
            "{{!-- renders the inputs --}}{{json users}}"
        ));
        assert!(!super::names_inputs("inputs outside any expression {{x}}"));
        assert!(!super::names_inputs("{{my_inputs}}"));
    }
}
