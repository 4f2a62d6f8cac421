//! Fidelity of the simulator to real Odoo 18: one table of scenarios, each run through
//! `OdooClient` over XML-RPC and JSON-RPC (with API keys) and reduced to an outcome class (the
//! shape or the values of a result, or the kind of an error).
//!
//! - Always: every scenario runs against the simulator and its classes must equal
//!   `testdata/fidelity/expected.json` (or the simulator's class of a listed known difference).
//! - With `ODOO_LIVE_URL`, `ODOO_LIVE_DB` and the `ODOO_LIVE_{ADMIN,SALES,READONLY}_{UID,API_KEY}`
//!   of a real Odoo 18 (see `../shared/odoo/README.md`): every scenario also runs against it and
//!   the simulator's class must equal the live one, unless
//!   `testdata/fidelity/known-differences.toml` lists the scenario with its reason and the
//!   simulator's class.
//! - With `WARDEN_FIDELITY_BLESS=1` and a live server: `expected.json` is rewritten from the live
//!   results.
//!
//! Scenarios that write use records they create (names and references starting with
//! "Fidelity"/"FIDELITY"), and every run deletes such records before and after itself, so the
//! shared live server is left as found.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use warden_odoo::{Credential, OdooClient, OdooConfig, OdooError, Protocol, SecretString};
use warden_odoo_sim::{SimHandle, SimOptions};

// ---------------------------------------------------------------------------------------------
// scenarios
// ---------------------------------------------------------------------------------------------

/// The Odoo users of the kit (and of the simulator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum User {
    Admin,
    Sales,
    Readonly,
}

impl User {
    const ALL: [User; 3] = [User::Admin, User::Sales, User::Readonly];

    fn login(self) -> &'static str {
        match self {
            User::Admin => "admin",
            User::Sales => "sales_agent",
            User::Readonly => "readonly_bot",
        }
    }

    /// The middle part of the `ODOO_LIVE_<X>_*` variables.
    fn env_name(self) -> &'static str {
        match self {
            User::Admin => "ADMIN",
            User::Sales => "SALES",
            User::Readonly => "READONLY",
        }
    }
}

/// How a result is reduced to its outcome class.
#[derive(Clone, Debug, Default)]
struct Check {
    /// Compare the (projected) values, not only their shape.
    values: bool,
    /// In a shape, give the length of lists.
    count: bool,
    /// Sort lists before comparing values (the order is not Odoo's promise).
    unordered: bool,
    /// For an error, add Odoo's message to the kind.
    message: bool,
    /// Keep only these keys of every record (or of a dict such as `fields_get`'s).
    pick: Vec<&'static str>,
    /// Replace these keys' lists by their length (ids of records the scenario created).
    sizes: Vec<&'static str>,
    /// Replace these keys' many2one `[id, name]` by the name.
    names: Vec<&'static str>,
    /// For a list of records: which of these values of `key` are present.
    members: Option<(&'static str, Vec<&'static str>)>,
}

/// One call: who, what, and how its outcome is classed.
#[derive(Clone, Debug)]
struct Scenario {
    id: &'static str,
    user: User,
    model: &'static str,
    method: &'static str,
    args: Value,
    kwargs: Value,
    check: Check,
    /// Bind a part of the result (a JSON pointer, "" for all) to a name used as "$name" in the
    /// arguments of later scenarios.
    bind: Option<(&'static str, &'static str)>,
}

fn s(
    id: &'static str,
    user: User,
    model: &'static str,
    method: &'static str,
    args: Value,
    kwargs: Value,
) -> Scenario {
    Scenario {
        id,
        user,
        model,
        method,
        args,
        kwargs,
        check: Check::default(),
        bind: None,
    }
}

impl Scenario {
    fn values(mut self) -> Self {
        self.check.values = true;
        self
    }
    fn count(mut self) -> Self {
        self.check.count = true;
        self
    }
    fn unordered(mut self) -> Self {
        self.check.values = true;
        self.check.unordered = true;
        self
    }
    fn message(mut self) -> Self {
        self.check.message = true;
        self
    }
    fn pick(mut self, keys: &[&'static str]) -> Self {
        self.check.pick = keys.to_vec();
        self
    }
    fn sizes(mut self, keys: &[&'static str]) -> Self {
        self.check.sizes = keys.to_vec();
        self
    }
    fn names(mut self, keys: &[&'static str]) -> Self {
        self.check.names = keys.to_vec();
        self
    }
    fn members(mut self, key: &'static str, wanted: &[&'static str]) -> Self {
        self.check.members = Some((key, wanted.to_vec()));
        self
    }
    fn bind(mut self, name: &'static str, pointer: &'static str) -> Self {
        self.bind = Some((name, pointer));
        self
    }
}

use User::{Admin, Readonly, Sales};

/// A leaf keeping the partners of the demo data (the live server may hold records that other
/// tests created).
fn demo() -> Value {
    json!(["id", "<=", 61])
}

/// The `fields_get` attributes compared on every field the simulator models (the gateway reads
/// them to build its catalog and to follow what derived values depend on).
const META_ATTRIBUTES: &[&str] = &[
    "type",
    "string",
    "relation",
    "relation_field",
    "required",
    "readonly",
    "store",
    "selection",
    "help",
    "sortable",
    "groupable",
    "searchable",
    "depends",
    "related",
    "translate",
    "aggregator",
    "groups",
    "digits",
    "currency_field",
    "size",
];
const META_RES_PARTNER: &[&str] = &[
    "active",
    "barcode",
    "category_id",
    "child_ids",
    "city",
    "comment",
    "commercial_company_name",
    "commercial_partner_id",
    "company_id",
    "company_name",
    "company_registry",
    "company_type",
    "complete_name",
    "country_id",
    "create_date",
    "create_uid",
    "display_name",
    "email",
    "email_formatted",
    "email_normalized",
    "function",
    "id",
    "is_company",
    "mobile",
    "name",
    "parent_id",
    "phone",
    "phone_mobile_search",
    "phone_sanitized",
    "ref",
    "street",
    "type",
    "user_id",
    "vat",
    "website",
    "write_date",
    "write_uid",
    "zip",
];
const META_RES_PARTNER_CATEGORY: &[&str] = &[
    "active",
    "child_ids",
    "color",
    "create_date",
    "create_uid",
    "display_name",
    "id",
    "name",
    "parent_id",
    "write_date",
    "write_uid",
];
const META_RES_COMPANY: &[&str] = &[
    "active",
    "country_id",
    "create_date",
    "create_uid",
    "currency_id",
    "display_name",
    "email",
    "id",
    "name",
    "partner_id",
    "phone",
    "write_date",
    "write_uid",
];
const META_RES_USERS: &[&str] = &[
    "active",
    "company_id",
    "create_date",
    "create_uid",
    "display_name",
    "email",
    "groups_id",
    "id",
    "login",
    "name",
    "partner_id",
    "share",
    "write_date",
    "write_uid",
];
const META_PRODUCT_TEMPLATE: &[&str] = &[
    "active",
    "create_date",
    "create_uid",
    "default_code",
    "description_sale",
    "display_name",
    "id",
    "list_price",
    "name",
    "product_variant_ids",
    "write_date",
    "write_uid",
];
const META_PRODUCT_PRODUCT: &[&str] = &[
    "active",
    "barcode",
    "create_date",
    "create_uid",
    "default_code",
    "display_name",
    "id",
    "list_price",
    "name",
    "product_tmpl_id",
    "write_date",
    "write_uid",
];
const META_SALE_ORDER: &[&str] = &[
    "amount_tax",
    "amount_total",
    "amount_untaxed",
    "client_order_ref",
    "company_id",
    "create_date",
    "create_uid",
    "currency_id",
    "date_order",
    "display_name",
    "id",
    "name",
    "note",
    "order_line",
    "origin",
    "partner_id",
    "state",
    "user_id",
    "validity_date",
    "write_date",
    "write_uid",
];
const META_SALE_ORDER_LINE: &[&str] = &[
    "create_date",
    "create_uid",
    "display_name",
    "id",
    "name",
    "order_id",
    "order_partner_id",
    "price_subtotal",
    "price_total",
    "price_unit",
    "product_id",
    "product_uom_qty",
    "salesman_id",
    "sequence",
    "state",
    "write_date",
    "write_uid",
];
const META_CRM_LEAD: &[&str] = &[
    "active",
    "create_date",
    "create_uid",
    "display_name",
    "email_from",
    "expected_revenue",
    "id",
    "name",
    "partner_id",
    "phone",
    "priority",
    "probability",
    "type",
    "user_id",
    "write_date",
    "write_uid",
];
const META_HR_DEPARTMENT: &[&str] = &[
    "active",
    "child_ids",
    "complete_name",
    "create_date",
    "create_uid",
    "display_name",
    "id",
    "name",
    "parent_id",
    "write_date",
    "write_uid",
];
const META_HR_EMPLOYEE: &[&str] = &[
    "active",
    "avatar_128",
    "birthday",
    "child_ids",
    "coach_id",
    "company_id",
    "create_date",
    "create_uid",
    "department_id",
    "display_name",
    "id",
    "identification_id",
    "image_128",
    "job_title",
    "mobile_phone",
    "name",
    "parent_id",
    "private_email",
    "private_phone",
    "user_id",
    "work_email",
    "work_phone",
    "write_date",
    "write_uid",
];
const META_HR_EMPLOYEE_PUBLIC: &[&str] = &[
    "active",
    "avatar_128",
    "child_ids",
    "coach_id",
    "company_id",
    "create_date",
    "create_uid",
    "department_id",
    "display_name",
    "id",
    "image_128",
    "job_title",
    "mobile_phone",
    "name",
    "parent_id",
    "user_id",
    "work_email",
    "work_phone",
    "write_date",
    "write_uid",
];

/// The table. Ids are those of the kit's demo data (see `../shared/odoo/README.md`).
#[allow(clippy::too_many_lines)]
fn scenarios() -> Vec<Scenario> {
    let d = demo();
    vec![
        // --- basics -------------------------------------------------------------------------
        s("partner_search_read_companies", Admin, "res.partner", "search_read",
          json!([[["is_company", "=", true], d]]), json!({"fields": ["name", "email", "country_id", "child_ids"], "order": "name"})).values(),
        s("partner_read_by_ids", Admin, "res.partner", "read",
          json!([[10, 11, 19]]), json!({"fields": ["name", "parent_id", "child_ids", "category_id", "email", "phone", "vat", "city", "is_company", "type"]})).values(),
        s("partner_read_missing_id_is_empty", Admin, "res.partner", "read", json!([[999_999]]), json!({"fields": ["name"]})),
        s("partner_search_count_companies", Admin, "res.partner", "search_count",
          json!([[["is_company", "=", true], d]]), json!({})).values(),
        s("partner_search_count_all_shape", Admin, "res.partner", "search_count", json!([[]]), json!({})),
        s("partner_search_archived", Admin, "res.partner", "search",
          json!([[["active", "=", false], d]]), json!({"order": "id"})).values(),
        s("partner_search_order_limit_offset", Admin, "res.partner", "search_read",
          json!([[["is_company", "=", true], d]]), json!({"fields": ["name"], "order": "name desc", "limit": 2, "offset": 1})).values(),
        s("partner_read_group_by_country", Admin, "res.partner", "read_group",
          json!([[d, ["is_company", "=", true]], ["id:count"], ["country_id"]]), json!({})).values(),
        s("partner_category_search_read", Admin, "res.partner.category", "search_read",
          json!([[]]), json!({"fields": ["name", "parent_id", "display_name"], "order": "id"})).values(),
        s("country_offset_limit", Admin, "res.country", "search_read",
          json!([[]]), json!({"fields": ["name", "code"], "offset": 50, "limit": 5, "order": "id"})).values(),
        s("country_context_lang", Admin, "res.country", "search_read",
          json!([[["code", "in", ["DE", "BE", "US"]]]]), json!({"fields": ["name"], "order": "code", "context": {"lang": "fr_FR"}})).values(),
        s("department_complete_names", Admin, "hr.department", "search_read",
          json!([[]]), json!({"fields": ["name", "complete_name", "parent_id"], "order": "id"})).values(),
        s("product_count", Admin, "product.product", "search_count", json!([[]]), json!({})).values(),
        s("lead_count_admin", Admin, "crm.lead", "search_count", json!([[]]), json!({})).values(),
        s("lead_read_group_by_user", Admin, "crm.lead", "read_group",
          json!([[], ["expected_revenue:sum"], ["user_id"]]), json!({"orderby": "user_id"})).values(),
        s("order_read_group_by_state", Admin, "sale.order", "read_group",
          json!([[["id", "<=", 23]], ["amount_total:sum"], ["state"]]), json!({"orderby": "state"})).values(),
        s("order_count_admin_shape", Admin, "sale.order", "search_count", json!([[]]), json!({})),
        s("private_method", Admin, "res.partner", "_compute_display_name", json!([[1]]), json!({})).message(),
        s("unknown_model", Admin, "no.such.model", "search", json!([[]]), json!({})).message(),
        s("unknown_method", Admin, "res.partner", "no_such_method", json!([[]]), json!({})).message(),
        s("unknown_field_in_domain", Admin, "res.partner", "search", json!([[["nonexistent_field", "=", 1]]]), json!({})).message(),
        s("unknown_field_in_read", Admin, "res.partner", "read", json!([[1]]), json!({"fields": ["nope"]})).message(),
        s("create_missing_required_field", Admin, "sale.order", "create", json!([{}]), json!({})).message(),
        s("recursive_partner_hierarchy", Admin, "res.partner", "write", json!([[10], {"parent_id": 19}]), json!({})).message(),
        s("unlink_confirmed_order", Admin, "sale.order", "unlink", json!([[4]]), json!({})).message(),
        s("readonly_cannot_create_partner", Readonly, "res.partner", "create", json!([{"name": "Fidelity Denied"}]), json!({})).message(),
        s("readonly_cannot_write_partner", Readonly, "res.partner", "write", json!([[10], {"phone": "1"}]), json!({})).message(),
        s("readonly_reads_partners", Readonly, "res.partner", "search_count", json!([[["is_company", "=", true], d]]), json!({})).values(),
        s("sales_cannot_write_users", Sales, "res.users", "write", json!([[2], {"name": "x"}]), json!({})).message(),
        s("readonly_cannot_read_orders", Readonly, "sale.order", "search_read", json!([[]]), json!({"fields": ["name"]})).message(),
        s("readonly_cannot_read_leads", Readonly, "crm.lead", "search", json!([[]]), json!({})),
        s("check_access_rights_raise_returns_none", Sales, "sale.order", "check_access_rights", json!(["read"]), json!({})),
        s("check_access_rights_unlink_false", Sales, "sale.order", "check_access_rights", json!(["unlink", false]), json!({})),
        s("exists_filters_missing", Admin, "res.partner", "exists", json!([[999_999, 10]]), json!({})).values(),
        // --- 1: ir.model and ir.model.fields are for administrators -----------------------
        s("irmodel_sales_search_read", Sales, "ir.model", "search_read", json!([[]]), json!({"fields": ["model"], "limit": 2})).message(),
        s("irmodel_sales_search_count", Sales, "ir.model", "search_count", json!([[]]), json!({})).message(),
        s("irmodel_readonly_read", Readonly, "ir.model", "read", json!([[1]]), json!({"fields": ["model"]})).message(),
        s("irmodel_fields_sales_search_read", Sales, "ir.model.fields", "search_read", json!([[["model", "=", "res.partner"]]]), json!({"fields": ["name"]})).message(),
        s("irmodel_fields_readonly_search_count", Readonly, "ir.model.fields", "search_count", json!([[]]), json!({})).message(),
        s("irmodel_admin_search_read", Admin, "ir.model", "search_read",
          json!([[["model", "in", ["res.partner", "sale.order", "hr.employee"]]]]), json!({"fields": ["model", "name", "transient"]})).values(),
        s("irmodel_admin_search_count", Admin, "ir.model", "search_count", json!([[["model", "=", "res.partner"]]]), json!({})).values(),
        s("irmodel_fields_admin_search_read", Admin, "ir.model.fields", "search_read",
          json!([[["model", "=", "res.partner"], ["name", "in", ["email", "parent_id", "child_ids"]]]]),
          json!({"fields": ["name", "ttype", "relation", "field_description", "store"], "order": "name"})).pick(&["name", "ttype", "relation", "field_description", "store"]).values(),
        // --- 2: get_available_models / display_name_for --------------------------------------
        s("available_models_admin", Admin, "ir.model", "get_available_models", json!([]), json!({}))
            .members("model", &["res.partner", "sale.order", "hr.employee", "hr.employee.public", "crm.lead", "ir.model", "res.users"]),
        s("available_models_sales", Sales, "ir.model", "get_available_models", json!([]), json!({}))
            .members("model", &["res.partner", "sale.order", "sale.order.line", "hr.employee", "hr.employee.public", "crm.lead", "ir.model", "ir.model.fields", "ir.config_parameter"]),
        s("available_models_readonly", Readonly, "ir.model", "get_available_models", json!([]), json!({}))
            .members("model", &["res.partner", "sale.order", "hr.employee", "hr.employee.public", "crm.lead", "product.product", "hr.department"]),
        s("display_name_for_sales", Sales, "ir.model", "display_name_for",
          json!([["res.partner", "hr.employee", "hr.employee.public", "sale.order", "no.such"]]), json!({})).unordered(),
        s("display_name_for_readonly", Readonly, "ir.model", "display_name_for",
          json!([["res.partner", "sale.order", "ir.model"]]), json!({})).unordered(),
        // --- 3: name_search's signature --------------------------------------------------------
        s("name_search_positional", Admin, "res.partner", "name_search", json!(["Deco", [["is_company", "=", true]]]), json!({})).values(),
        s("name_search_keyword_args", Admin, "res.partner", "name_search", json!([]), json!({"name": "Deco", "args": [["is_company", "=", true]]})).values(),
        s("name_search_keyword_domain_fails", Admin, "res.partner", "name_search", json!([]), json!({"name": "Deco", "domain": [["is_company", "=", true]]})).message(),
        s("name_search_limit", Admin, "res.partner", "name_search", json!(["Deco"]), json!({"limit": 3})).values(),
        s("name_search_exact_operator", Admin, "res.partner", "name_search", json!(["Deco Addict", [], "="]), json!({})).values(),
        s("name_search_exact_partial_is_empty", Admin, "res.partner", "name_search", json!(["Deco", [], "="]), json!({})).values(),
        s("name_search_empty_name", Admin, "res.partner", "name_search", json!(["", [d], "ilike", 3]), json!({})).values(),
        s("name_search_negative", Admin, "res.partner", "name_search", json!(["a", [d, ["is_company", "=", true]], "not ilike"]), json!({})).values(),
        s("name_search_sales_agent", Sales, "res.partner", "name_search", json!(["Gemini"]), json!({})).values(),
        s("name_search_orders_sales_agent", Sales, "sale.order", "name_search", json!([""]), json!({})).values(),
        s("name_search_employee_sales_agent", Sales, "hr.employee", "name_search", json!(["Mitch"]), json!({})).values(),
        // --- 4: _rec_names_search --------------------------------------------------------------
        s("rec_names_partner_email", Admin, "res.partner", "name_search", json!(["info@agrolait"]), json!({})).values(),
        s("rec_names_partner_vat", Admin, "res.partner", "name_search", json!(["US12345673"]), json!({})).values(),
        s("rec_names_product_code", Admin, "product.product", "name_search", json!(["FURN_77"]), json!({})).values(),
        s("rec_names_product_barcode", Admin, "product.product", "name_search", json!(["2300001000008"]), json!({})).values(),
        s("rec_names_product_name", Admin, "product.product", "name_search", json!(["Desk"]), json!({"limit": 4})).values(),
        s("m2o_string_ilike", Admin, "sale.order", "search", json!([[["partner_id", "ilike", "deco"]]]), json!({"order": "id"})).values(),
        s("m2o_string_equal", Admin, "sale.order", "search", json!([[["partner_id", "=", "Deco Addict"]]]), json!({"order": "id"})).values(),
        s("m2o_string_equal_is_case_sensitive", Admin, "sale.order", "search", json!([[["partner_id", "=", "deco addict"]]]), json!({"order": "id"})).values(),
        s("m2o_string_not_equal", Admin, "sale.order", "search", json!([[["partner_id", "!=", "Gemini Furniture"], ["id", "<=", 23]]]), json!({"order": "id"})).values(),
        s("m2o_string_in", Admin, "sale.order", "search", json!([[["partner_id", "in", ["Deco Addict", "Ready Mat"]]]]), json!({"order": "id"})).values(),
        s("m2o_string_not_in", Admin, "sale.order", "search", json!([[["partner_id", "not in", ["Gemini Furniture", "Deco Addict"]], ["id", "<=", 23]]]), json!({"order": "id"})).values(),
        s("m2o_string_not_ilike", Admin, "sale.order", "search", json!([[["partner_id", "not ilike", "gemini"], ["id", "<=", 23]]]), json!({"order": "id"})).values(),
        s("m2o_string_email", Admin, "sale.order", "search", json!([[["partner_id", "ilike", "info@agrolait"]]]), json!({"order": "id"})).values(),
        s("m2o_string_vat", Admin, "sale.order", "search", json!([[["partner_id", "ilike", "US12345674"]]]), json!({"order": "id"})).values(),
        s("m2o_string_child_name", Admin, "sale.order", "search", json!([[["partner_id", "ilike", "Joel"]]]), json!({"order": "id"})).values(),
        s("m2o_string_child_of", Admin, "res.partner", "search", json!([[["parent_id", "child_of", "Deco Addict"]]]), json!({"order": "id"})).values(),
        s("m2o_string_parent_of", Admin, "res.partner", "search", json!([[["parent_id", "parent_of", "Douglas"]]]), json!({"order": "id"})).values(),
        s("m2o_other_model_child_of", Admin, "sale.order", "search", json!([[["partner_id", "child_of", "Deco"]]]), json!({"order": "id"})).values(),
        s("m2o_int_not_equal_includes_empty", Admin, "res.partner", "search_count", json!([[["parent_id", "!=", 10], d]]), json!({})).values(),
        s("display_name_ilike", Admin, "res.partner", "search", json!([[["display_name", "ilike", "deco"]]]), json!({"order": "id"})).values(),
        s("display_name_equal_complete_name", Admin, "res.partner", "search", json!([[["display_name", "=", "Deco Addict, Douglas Fletcher"]]]), json!({})).values(),
        s("display_name_not_ilike", Admin, "res.partner", "search_count", json!([[["display_name", "not ilike", "a"], d]]), json!({})).values(),
        s("m2m_string_ilike_child_of_tags", Admin, "res.partner", "search", json!([[["category_id", "ilike", "vendor"]]]), json!({"order": "id"})).values(),
        s("m2m_string_equal", Admin, "res.partner", "search", json!([[["category_id", "=", "Office Supplies"]]]), json!({"order": "id"})).values(),
        s("m2m_string_not_ilike", Admin, "res.partner", "search_count", json!([[["category_id", "not ilike", "vendor"], d]]), json!({})).values(),
        s("o2m_string_ilike", Admin, "res.partner", "search", json!([[["child_ids", "ilike", "Douglas"]]]), json!({"order": "id"})).values(),
        s("o2m_empty", Admin, "res.partner", "search_count", json!([[["child_ids", "!=", false], d]]), json!({})).values(),
        s("path_any_semantics_false", Admin, "res.partner", "search_count", json!([[["parent_id.name", "=", false], d]]), json!({})).values(),
        s("path_any_semantics_negative", Admin, "res.partner", "search_count", json!([[["parent_id.name", "!=", "Deco Addict"], d]]), json!({})).values(),
        s("m2m_int_not_equal", Admin, "res.partner", "search_count", json!([[["category_id", "!=", 7], d]]), json!({})).values(),
        s("m2m_empty", Admin, "res.partner", "search_count", json!([[["category_id", "=", false], d]]), json!({})).values(),
        s("m2m_child_of_name", Admin, "res.partner", "search", json!([[["category_id", "child_of", "Vendor"]]]), json!({})).values(),
        s("o2m_ids_not_in", Admin, "res.partner", "search_count", json!([[["child_ids", "not in", [19, 17]], d]]), json!({})).values(),
        s("id_child_of_name", Admin, "res.partner", "search", json!([[["id", "child_of", "Deco Addict"]]]), json!({})).values(),
        s("m2o_int_not_in_includes_empty", Admin, "res.partner", "search_count", json!([[["parent_id", "not in", [10, 11]], d]]), json!({})).values(),
        s("line_salesman_related_search", Admin, "sale.order.line", "search", json!([[["salesman_id", "=", 8]]]), json!({"order": "id"})).values(),
        s("m2o_users_login", Admin, "crm.lead", "search_count", json!([[["user_id", "=", "admin"]]]), json!({})).values(),
        s("m2o_users_name", Admin, "crm.lead", "search_count", json!([[["user_id", "ilike", "Mitchell"]]]), json!({})).values(),
        s("m2o_product_code_bracket", Admin, "sale.order.line", "search", json!([[["product_id", "=", "[FURN_7777] Office Chair"]]]), json!({"order": "id"})).values(),
        s("m2o_product_ilike_code", Admin, "sale.order.line", "search_count", json!([[["product_id", "ilike", "FURN_6667"]]]), json!({})).values(),
        s("name_search_users_login_first", Admin, "res.users", "name_search", json!(["sales_agent"]), json!({})).values(),
        s("name_search_users_caller_first", Sales, "res.users", "name_search", json!(["a"]), json!({"limit": 3})).values(),
        s("name_search_country_code", Admin, "res.country", "name_search", json!(["BE"]), json!({"limit": 3})).values(),
        s("name_search_product_bracket", Admin, "product.product", "name_search", json!(["[FURN_8888] Office Lamp", [], "="]), json!({})).values(),
        s("name_search_category_path", Admin, "res.partner.category", "name_search", json!(["vendor"]), json!({})).values(),
        // --- 5: derived fields and metadata -----------------------------------------------------
        s("fields_get_partner_email_fields", Admin, "res.partner", "fields_get",
          json!([["email", "email_normalized", "email_formatted"]]), json!({"attributes": ["type", "store", "searchable", "sortable", "depends", "related", "readonly"]})).values(),
        s("fields_get_partner_phone_fields", Admin, "res.partner", "fields_get",
          json!([["phone", "mobile", "phone_sanitized", "phone_mobile_search"]]), json!({"attributes": ["type", "store", "searchable", "depends", "related", "readonly"]})).values(),
        s("fields_get_partner_name_fields", Admin, "res.partner", "fields_get",
          json!([["display_name", "complete_name", "commercial_partner_id", "commercial_company_name", "company_registry", "barcode", "child_ids", "company_type"]]),
          json!({"attributes": ["type", "store", "searchable", "depends", "related", "relation", "readonly"]})).values(),
        s("fields_get_no_attributes_shape", Admin, "res.partner", "fields_get", json!([["name", "email_formatted", "child_ids", "type", "id"]]), json!({})).count(),
        s("fields_get_depends_only", Admin, "res.users", "fields_get", json!([["email", "login"]]), json!({"attributes": ["depends"]})).values(),
        s("fields_get_users_email", Admin, "res.users", "fields_get", json!([["email", "name", "partner_id"]]), json!({"attributes": ["type", "store", "depends", "related"]})).values(),
        s("fields_get_product", Admin, "product.product", "fields_get",
          json!([["name", "default_code", "barcode", "display_name", "product_tmpl_id"]]), json!({"attributes": ["type", "store", "searchable", "depends", "related", "required"]})).values(),
        s("fields_get_order_line", Admin, "sale.order.line", "fields_get",
          json!([["order_partner_id", "salesman_id", "state", "order_id"]]), json!({"attributes": ["type", "store", "depends", "related", "relation", "readonly"]})).values(),
        s("metadata_res_partner", Admin, "res.partner", "fields_get", json!([META_RES_PARTNER]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_res_partner_category", Admin, "res.partner.category", "fields_get", json!([META_RES_PARTNER_CATEGORY]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_res_company", Admin, "res.company", "fields_get", json!([META_RES_COMPANY]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_res_users", Admin, "res.users", "fields_get", json!([META_RES_USERS]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_product_template", Admin, "product.template", "fields_get", json!([META_PRODUCT_TEMPLATE]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_product_product", Admin, "product.product", "fields_get", json!([META_PRODUCT_PRODUCT]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_sale_order", Admin, "sale.order", "fields_get", json!([META_SALE_ORDER]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_sale_order_line", Admin, "sale.order.line", "fields_get", json!([META_SALE_ORDER_LINE]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_crm_lead", Admin, "crm.lead", "fields_get", json!([META_CRM_LEAD]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_hr_department", Admin, "hr.department", "fields_get", json!([META_HR_DEPARTMENT]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_hr_employee", Admin, "hr.employee", "fields_get", json!([META_HR_EMPLOYEE]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("metadata_hr_employee_public", Sales, "hr.employee.public", "fields_get", json!([META_HR_EMPLOYEE_PUBLIC]), json!({"attributes": META_ATTRIBUTES})).values(),
        s("partner_derived_values", Admin, "res.partner", "read", json!([[3, 13, 19, 53, 42]]),
          json!({"fields": ["email_normalized", "email_formatted", "phone_sanitized", "commercial_partner_id", "commercial_company_name", "complete_name", "display_name"]})).values(),
        s("partner_search_email_normalized", Admin, "res.partner", "search", json!([[["email_normalized", "=", "eriknfrench@armyspy.com"]]]), json!({})).values(),
        s("partner_search_phone_mobile", Admin, "res.partner", "search", json!([[["phone_mobile_search", "ilike", "672"]]]), json!({"order": "id"})).values(),
        s("partner_search_phone_international", Admin, "res.partner", "search", json!([[["phone_mobile_search", "=", "+32 987 65 43 21"]]]), json!({})).values(),
        s("partner_search_phone_too_short", Admin, "res.partner", "search", json!([[["phone_mobile_search", "ilike", "67"]]]), json!({})).message(),
        s("partner_search_unsearchable_is_ignored", Admin, "res.partner", "search_count", json!([[["email_formatted", "ilike", "zzz"], d]]), json!({})).values(),
        s("partner_search_commercial_partner", Admin, "res.partner", "search", json!([[["commercial_partner_id", "=", 12]]]), json!({"order": "id"})).values(),
        s("users_email_related", Admin, "res.users", "read", json!([[2, 8]]), json!({"fields": ["email", "name", "login"]})).values(),
        s("users_search_email_related", Admin, "res.users", "search", json!([[["email", "ilike", "sales_agent"]]]), json!({})).values(),
        s("product_read_derived", Admin, "product.product", "read", json!([[5, 12, 40]]),
          json!({"fields": ["name", "default_code", "barcode", "display_name", "list_price", "product_tmpl_id"]})).values(),
        s("product_search_order", Admin, "product.product", "search_read", json!([[["default_code", "=like", "FURN_8%"]]]), json!({"fields": ["default_code"]})).values(),
        s("order_line_related_fields", Admin, "sale.order.line", "read", json!([[1, 45]]), json!({"fields": ["order_partner_id", "salesman_id", "state", "product_id", "price_subtotal"]})).values(),
        s("order_line_search_related", Admin, "sale.order.line", "search", json!([[["order_partner_id", "=", 10]]]), json!({"order": "id"})).values(),
        // --- 6: x2many commands --------------------------------------------------------------
        s("x2m_create_with_commands", Admin, "res.partner", "create",
          json!([{"name": "Fidelity Co", "is_company": true, "child_ids": [[0, 0, {"name": "Fidelity Kid A"}], [0, 0, {"name": "Fidelity Kid B"}]], "category_id": [[6, 0, [2, 4]]]}]), json!({}))
            .bind("p", ""),
        s("x2m_read_lists", Admin, "res.partner", "read", json!([["$p"]]), json!({"fields": ["name", "child_ids", "category_id"]}))
            .pick(&["name", "child_ids", "category_id"]).sizes(&["child_ids"]).values(),
        s("x2m_children", Admin, "res.partner", "search_read", json!([[["parent_id", "=", "$p"]]]), json!({"fields": ["name", "parent_id"], "order": "name"}))
            .pick(&["name", "parent_id"]).names(&["parent_id"]).values().bind("kids", ""),
        s("x2m_o2m_unlink_clears_inverse", Admin, "res.partner", "write", json!([["$p"], {"child_ids": [[3, "$kids.0"]]}]), json!({})),
        s("x2m_o2m_unlinked_child_kept", Admin, "res.partner", "search_read", json!([[["id", "in", "$kids"]]]), json!({"fields": ["name", "parent_id"], "order": "name"}))
            .pick(&["name", "parent_id"]).names(&["parent_id"]).values(),
        s("x2m_o2m_link_and_update", Admin, "res.partner", "write", json!([["$p"], {"child_ids": [[4, "$kids.0"], [1, "$kids.1", {"name": "Fidelity Kid B2"}]]}]), json!({})),
        s("x2m_o2m_after_link_update", Admin, "res.partner", "search_read", json!([[["parent_id", "=", "$p"]]]), json!({"fields": ["name"], "order": "name"}))
            .pick(&["name"]).values(),
        s("x2m_o2m_delete", Admin, "res.partner", "write", json!([["$p"], {"child_ids": [[2, "$kids.1"]]}]), json!({})),
        s("x2m_o2m_deleted_child_gone", Admin, "res.partner", "search_count", json!([[["id", "in", "$kids"]]]), json!({})).values(),
        s("x2m_o2m_clear", Admin, "res.partner", "write", json!([["$p"], {"child_ids": [[5]]}]), json!({})),
        s("x2m_o2m_after_clear", Admin, "res.partner", "search_count", json!([[["parent_id", "=", "$p"]]]), json!({})).values(),
        s("x2m_o2m_set", Admin, "res.partner", "write", json!([["$p"], {"child_ids": [[6, 0, ["$kids.0"]]]}]), json!({})),
        s("x2m_o2m_after_set", Admin, "res.partner", "search_read", json!([[["parent_id", "=", "$p"]]]), json!({"fields": ["name"]}))
            .pick(&["name"]).values(),
        s("x2m_m2m_unlink_and_link", Admin, "res.partner", "write", json!([["$p"], {"category_id": [[3, 2], [4, 1]]}]), json!({})),
        s("x2m_m2m_after_unlink_link", Admin, "res.partner", "read", json!([["$p"]]), json!({"fields": ["category_id"]}))
            .pick(&["category_id"]).values(),
        s("x2m_m2m_create_tag", Admin, "res.partner", "write", json!([["$p"], {"category_id": [[0, 0, {"name": "Fidelity Tag"}]]}]), json!({})),
        s("x2m_m2m_created_tag", Admin, "res.partner.category", "search", json!([[["name", "=", "Fidelity Tag"]]]), json!({}))
            .count().bind("tag", "/0"),
        s("x2m_m2m_delete_removes_record", Admin, "res.partner", "write", json!([["$p"], {"category_id": [[2, "$tag"]]}]), json!({})),
        s("x2m_m2m_deleted_tag_gone", Admin, "res.partner.category", "search_count", json!([[["name", "=", "Fidelity Tag"]]]), json!({})).values(),
        s("x2m_m2m_clear", Admin, "res.partner", "write", json!([["$p"], {"category_id": [[5]]}]), json!({})),
        s("x2m_m2m_after_clear", Admin, "res.partner", "read", json!([["$p"]]), json!({"fields": ["category_id"]}))
            .pick(&["category_id"]).values(),
        s("x2m_m2m_missing_id", Admin, "res.partner", "write", json!([["$p"], {"category_id": [[6, 0, [1, 999_999]]]}]), json!({})),
        s("x2m_o2m_update_missing", Admin, "res.partner", "write", json!([["$p"], {"child_ids": [[1, 999_999, {"name": "x"}]]}]), json!({})).message(),
        s("x2m_readonly_denied", Readonly, "res.partner", "write", json!([["$p"], {"child_ids": [[0, 0, {"name": "Fidelity Nope"}]]}]), json!({})),
        s("x2m_order_create", Admin, "sale.order", "create",
          json!([{"partner_id": 10, "client_order_ref": "FIDELITY", "order_line": [[0, 0, {"product_id": 5, "product_uom_qty": 2}], [0, 0, {"product_id": 6}], [0, 0, {"product_id": 17, "product_uom_qty": 3}]]}]), json!({}))
            .bind("o", ""),
        s("x2m_order_read", Admin, "sale.order", "read", json!([["$o"]]), json!({"fields": ["order_line", "amount_total", "user_id", "state"]}))
            .pick(&["order_line", "amount_total", "user_id", "state"]).sizes(&["order_line"]).values().bind("lines", "/0/order_line"),
        s("x2m_order_line_unlink_deletes", Admin, "sale.order", "write", json!([["$o"], {"order_line": [[3, "$lines.0"]]}]), json!({})),
        s("x2m_order_line_deleted", Admin, "sale.order.line", "search_count", json!([[["id", "in", "$lines"]]]), json!({})).values(),
        s("x2m_order_line_update", Admin, "sale.order", "write", json!([["$o"], {"order_line": [[1, "$lines.1", {"product_uom_qty": 4}]]}]), json!({})),
        s("x2m_order_amount_after_update", Admin, "sale.order", "read", json!([["$o"]]), json!({"fields": ["amount_total"]}))
            .pick(&["amount_total"]).values(),
        s("x2m_order_lines_clear_deletes", Admin, "sale.order", "write", json!([["$o"], {"order_line": [[5]]}]), json!({})),
        s("x2m_order_lines_after_clear", Admin, "sale.order.line", "search_count", json!([[["id", "in", "$lines"]]]), json!({})).values(),
        s("line_name_create", Admin, "sale.order", "create",
          json!([{"partner_id": 11, "client_order_ref": "FIDELITY-DESC", "order_line": [[0, 0, {"product_id": 12}], [0, 0, {"product_id": 35, "product_uom_qty": 2}]]}]), json!({}))
            .bind("desc", ""),
        s("line_name_has_description", Admin, "sale.order.line", "search_read", json!([[["order_id", "=", "$desc"]]]),
          json!({"fields": ["name", "price_unit", "price_subtotal", "sequence"], "order": "id"}))
            .pick(&["name", "price_unit", "price_subtotal", "sequence"]).values(),
        s("x2m_rollback_on_missing_product", Admin, "sale.order", "create",
          json!([{"partner_id": 10, "client_order_ref": "FIDELITY-ROLLBACK", "order_line": [[0, 0, {"product_id": 5}], [0, 0, {"product_id": 999_999}]]}]), json!({})).message(),
        s("x2m_rollback_left_nothing", Admin, "sale.order", "search_count", json!([[["client_order_ref", "=", "FIDELITY-ROLLBACK"]]]), json!({})).values(),
        s("x2m_sales_update_foreign_line", Sales, "sale.order", "write", json!([[21], {"order_line": [[1, 1, {"product_uom_qty": 9}]]}]), json!({})).message(),
        s("x2m_sales_link_foreign_line", Sales, "sale.order", "write", json!([[21], {"order_line": [[4, 1]]}]), json!({})),
        s("x2m_sales_create_partner_with_child", Sales, "res.partner", "create",
          json!([{"name": "Fidelity Sales Co", "is_company": true, "child_ids": [[0, 0, {"name": "Fidelity Sales Kid"}]]}]), json!({})),
        // --- 7: any / not any --------------------------------------------------------------------
        s("any_m2o", Admin, "sale.order", "search", json!([[["partner_id", "any", [["is_company", "=", true], ["name", "ilike", "deco"]]], ["id", "<=", 23]]]), json!({"order": "id"})).values(),
        s("not_any_m2o_includes_empty", Admin, "crm.lead", "search_count", json!([[["partner_id", "not any", [["is_company", "=", true]]]]]), json!({})).values(),
        s("any_o2m_path", Admin, "sale.order", "search", json!([[["order_line", "any", [["product_id.default_code", "=", "E-COM07"]]], ["id", "<=", 23]]]), json!({"order": "id"})).values(),
        s("not_any_o2m", Admin, "sale.order", "search", json!([[["order_line", "not any", [["product_id", "in", [5, 6, 32, 25]]]], ["id", "<=", 23]]]), json!({"order": "id"})).values(),
        s("any_m2m", Admin, "res.partner", "search", json!([[["category_id", "any", [["parent_id.name", "=", "Vendor"]]]]]), json!({"order": "id"})).values(),
        s("not_any_m2m", Admin, "res.partner", "search_count", json!([[["category_id", "not any", [["name", "ilike", "o"]]], d]]), json!({})).values(),
        s("any_nested", Admin, "res.partner", "search", json!([[["child_ids", "any", [["email", "ilike", "fletcher"], ["parent_id", "any", [["is_company", "=", true]]]]]]]), json!({})).values(),
        s("any_under_record_rules", Sales, "sale.order.line", "search_count", json!([[["order_id", "any", [["name", "in", ["S00001", "S00021"]]]]]]), json!({})).values(),
        s("any_on_a_char_field", Admin, "res.partner", "search_count", json!([[["name", "any", [["id", "=", 1]]]]]), json!({})),
        // --- 8: missing records ------------------------------------------------------------------
        s("missing_unlink", Admin, "res.partner", "unlink", json!([[999_999]]), json!({})).message(),
        s("missing_write", Admin, "res.partner", "write", json!([[999_999], {"name": "x"}]), json!({})).message(),
        s("missing_action_archive", Admin, "res.partner", "action_archive", json!([[999_999]]), json!({})).message(),
        s("missing_unlink_several", Admin, "res.partner", "unlink", json!([[999_998, 999_999]]), json!({})).message(),
        s("missing_action_confirm", Admin, "sale.order", "action_confirm", json!([[999_999]]), json!({})).message(),
        s("archive_create", Admin, "res.partner", "create", json!([{"name": "Fidelity Archive"}]), json!({})).bind("arch", ""),
        s("archive_returns_none", Admin, "res.partner", "action_archive", json!([["$arch"]]), json!({})),
        s("archive_done", Admin, "res.partner", "search_count", json!([[["id", "=", "$arch"], ["active", "=", false]]]), json!({})).values(),
        s("unarchive_returns_none", Admin, "res.partner", "action_unarchive", json!([["$arch"]]), json!({})),
        s("unlink_created", Admin, "res.partner", "unlink", json!([["$arch"]]), json!({})),
        s("unlink_twice_missing", Admin, "res.partner", "unlink", json!([["$arch"]]), json!({})),
        // --- 9: the sales agent's own documents -----------------------------------------------
        s("sales_order_count", Sales, "sale.order", "search_count", json!([[]]), json!({})).values(),
        s("sales_orders", Sales, "sale.order", "search_read", json!([[]]),
          json!({"fields": ["name", "partner_id", "user_id", "state", "amount_untaxed", "amount_total", "order_line"], "order": "id"})).values(),
        s("sales_order_lines", Sales, "sale.order.line", "search_read", json!([[]]),
          json!({"fields": ["order_id", "product_id", "product_uom_qty", "price_unit", "price_subtotal", "salesman_id"], "order": "id"})).values(),
        s("sales_line_count", Sales, "sale.order.line", "search_count", json!([[]]), json!({})).values(),
        s("sales_read_foreign_order", Sales, "sale.order", "read", json!([[1]]), json!({"fields": ["name"]})).message(),
        s("sales_read_foreign_line", Sales, "sale.order.line", "read", json!([[1]]), json!({"fields": ["name"]})).message(),
        s("sales_write_foreign_order", Sales, "sale.order", "write", json!([[1], {"note": "x"}]), json!({})).message(),
        s("sales_cannot_unlink_orders", Sales, "sale.order", "unlink", json!([[21]]), json!({})).message(),
        s("sales_lead_count", Sales, "crm.lead", "search_count", json!([[]]), json!({})).values(),
        s("sales_read_foreign_lead", Sales, "crm.lead", "read", json!([[1]]), json!({"fields": ["name"]})).message(),
        s("sales_read_group_orders", Sales, "sale.order", "read_group", json!([[], ["amount_total:sum"], ["partner_id"]]), json!({"orderby": "partner_id"})).values(),
        s("sales_create_order_for_another", Sales, "sale.order", "create", json!([{"partner_id": 10, "user_id": 2, "client_order_ref": "FIDELITY-OTHER"}]), json!({})).message(),
        s("sales_create_line_on_foreign_order", Sales, "sale.order.line", "create", json!([{"order_id": 1, "product_id": 5}]), json!({})).message(),
        s("sales_unlink_foreign_line", Sales, "sale.order.line", "unlink", json!([[1]]), json!({})).message(),
        s("sales_confirm_foreign_order", Sales, "sale.order", "action_confirm", json!([[1]]), json!({})).message(),
        s("sales_search_foreign_ids_filtered", Sales, "sale.order", "search", json!([[["id", "in", [1, 21]]]]), json!({})).values(),
        s("sales_create_own_order", Sales, "sale.order", "create",
          json!([{"partner_id": 12, "client_order_ref": "FIDELITY-OWN", "order_line": [[0, 0, {"product_id": 18, "product_uom_qty": 5}]]}]), json!({})).bind("own", ""),
        s("sales_own_order_read", Sales, "sale.order", "read", json!([["$own"]]), json!({"fields": ["user_id", "amount_total", "state", "partner_id"]}))
            .pick(&["user_id", "amount_total", "state", "partner_id"]).values(),
        s("sales_own_line_name", Sales, "sale.order.line", "search_read", json!([[["order_id", "=", "$own"]]]), json!({"fields": ["name", "price_unit", "salesman_id", "order_partner_id"]}))
            .pick(&["name", "price_unit", "salesman_id", "order_partner_id"]).values(),
        s("admin_sees_kit_orders", Admin, "sale.order", "search_read", json!([[["user_id", "=", 8], ["id", "<=", 23]]]),
          json!({"fields": ["name", "partner_id", "amount_total", "create_uid"], "order": "id"})).values(),
        // --- 10: hr.employee without an HR group ----------------------------------------------
        s("hr_sales_count", Sales, "hr.employee", "search_count", json!([[]]), json!({})).values(),
        s("hr_readonly_count", Readonly, "hr.employee", "search_count", json!([[]]), json!({})).values(),
        s("hr_sales_public_fields", Sales, "hr.employee", "search_read", json!([[]]),
          json!({"fields": ["name", "job_title", "work_email", "department_id", "parent_id"], "order": "id", "limit": 4})).values(),
        s("hr_sales_no_fields_is_empty", Sales, "hr.employee", "search_read", json!([[]]), json!({"limit": 2})).values(),
        s("hr_sales_image_is_empty", Sales, "hr.employee", "search_read", json!([[]]), json!({"fields": ["name", "image_128"], "limit": 2})).values(),
        s("hr_sales_avatar_is_empty", Readonly, "hr.employee", "read", json!([[1, 2]]), json!({"fields": ["name", "avatar_128"]})).values(),
        s("hr_sales_read_no_fields_is_empty", Sales, "hr.employee", "read", json!([[1, 2]]), json!({})).values(),
        s("hr_sales_read_public", Sales, "hr.employee", "read", json!([[1, 2]]), json!({"fields": ["name", "work_email", "mobile_phone"]})).values(),
        s("hr_sales_private_field", Sales, "hr.employee", "search_read", json!([[]]), json!({"fields": ["name", "private_email"]})).message(),
        s("hr_readonly_private_field_read", Readonly, "hr.employee", "read", json!([[1]]), json!({"fields": ["birthday"]})).message(),
        s("hr_sales_private_domain", Sales, "hr.employee", "search_read", json!([[["private_email", "!=", false]]]), json!({"fields": ["name"]})).message(),
        s("hr_sales_private_domain_count", Sales, "hr.employee", "search_count", json!([[["private_email", "!=", false]]]), json!({})).message(),
        s("hr_sales_public_domain", Sales, "hr.employee", "search", json!([[["department_id.name", "=", "Sales"]]]), json!({"order": "id"})).values(),
        s("hr_sales_fields_get", Sales, "hr.employee", "fields_get", json!([]), json!({"attributes": ["type"]}))
            .pick(&["name", "job_title", "work_email", "mobile_phone", "department_id", "parent_id", "private_email", "private_phone", "birthday", "identification_id"]),
        s("hr_admin_fields_get", Admin, "hr.employee", "fields_get", json!([]), json!({"attributes": ["type"]}))
            .pick(&["name", "job_title", "work_email", "mobile_phone", "department_id", "parent_id", "private_email", "private_phone", "birthday", "identification_id"]),
        s("hr_sales_write_refused", Sales, "hr.employee", "write", json!([[2], {"job_title": "x"}]), json!({})).message(),
        s("hr_sales_check_access_rights", Sales, "hr.employee", "check_access_rights", json!(["read", false]), json!({})),
        s("hr_sales_read_group_refused", Sales, "hr.employee", "read_group", json!([[], ["name"], ["department_id"]]), json!({})).message(),
        s("hr_public_model_count", Sales, "hr.employee.public", "search_count", json!([[]]), json!({})).values(),
        s("hr_admin_private_values", Admin, "hr.employee", "read", json!([[1, 3]]), json!({"fields": ["private_email", "private_phone", "department_id", "parent_id"]})).values(),
    ]
}

// ---------------------------------------------------------------------------------------------
// outcome classes
// ---------------------------------------------------------------------------------------------

fn snake(kind: &str) -> String {
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn error_class(error: &OdooError, check: &Check) -> String {
    let kind = snake(&format!("{:?}", error.kind()));
    if check.message {
        format!("error:{kind}: {error}")
    } else {
        format!("error:{kind}")
    }
}

/// Keep the picked keys, and turn `sizes` lists into lengths and `names` many2ones into names.
fn project(value: &Value, check: &Check) -> Value {
    let project_object = |map: &Map<String, Value>| -> Value {
        let mut out = Map::new();
        for (key, v) in map {
            if !check.pick.is_empty() && !check.pick.contains(&key.as_str()) {
                continue;
            }
            let v = if check.sizes.contains(&key.as_str()) {
                v.as_array().map_or_else(|| v.clone(), |a| json!(a.len()))
            } else if check.names.contains(&key.as_str()) {
                match v {
                    Value::Array(pair) if pair.len() == 2 => pair[1].clone(),
                    other => other.clone(),
                }
            } else {
                v.clone()
            };
            out.insert(key.clone(), v);
        }
        Value::Object(out)
    };
    match value {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            Value::Array(
                items
                    .iter()
                    .map(|i| i.as_object().map_or_else(|| i.clone(), project_object))
                    .collect(),
            )
        }
        Value::Object(map) => project_object(map),
        other => other.clone(),
    }
}

/// Objects with sorted keys and, when unordered, sorted lists.
fn canonical(value: &Value, unordered: bool) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .map(|(k, v)| (k, canonical(v, unordered)))
                .collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(|i| canonical(i, unordered)).collect();
            if unordered {
                items.sort_by_key(Value::to_string);
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

fn shape(value: &Value, count: bool) -> String {
    let n = |len: usize| {
        if count {
            format!("[{len}]")
        } else {
            String::new()
        }
    };
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(x) if x.is_i64() || x.is_u64() => "int".to_owned(),
        Value::Number(_) => "float".to_owned(),
        Value::String(_) => "str".to_owned(),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) if items.iter().all(Value::is_object) => {
            let mut keys: Vec<&str> = items
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|o| o.keys().map(String::as_str))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            format!("records{}{{{}}}", n(items.len()), keys.join(","))
        }
        Value::Array(items) if items.iter().all(Value::is_i64) => format!("ids{}", n(items.len())),
        Value::Array(items) if items.len() == 2 && items[0].is_i64() && items[1].is_string() => {
            "m2o".to_owned()
        }
        Value::Array(items) => format!("list{}", n(items.len())),
        Value::Object(map) => {
            let mut parts: Vec<String> = map
                .iter()
                .map(|(k, v)| match v {
                    Value::Object(inner) => {
                        let mut keys: Vec<&str> = inner.keys().map(String::as_str).collect();
                        keys.sort_unstable();
                        if count {
                            format!("{k}:{{{}}}", keys.join(","))
                        } else {
                            k.clone()
                        }
                    }
                    _ => k.clone(),
                })
                .collect();
            parts.sort();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// The outcome class of one call.
fn classify(result: &Result<Value, OdooError>, check: &Check) -> String {
    let value = match result {
        Ok(v) => v,
        Err(e) => return error_class(e, check),
    };
    if let Some((key, wanted)) = &check.members {
        let present: Vec<&str> = value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get(*key).and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = shape(value, false);
        for w in wanted {
            let sign = if present.contains(w) { '+' } else { '-' };
            let _ = write!(out, " {sign}{w}");
        }
        return out;
    }
    let projected = project(value, check);
    if check.values {
        canonical(&projected, check.unordered).to_string()
    } else {
        shape(&projected, check.count)
    }
}

// ---------------------------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------------------------

/// Where to run: an Odoo (real or simulated) and the users' uids and API keys.
struct Target {
    name: String,
    url: String,
    database: String,
    users: BTreeMap<User, (i64, String)>,
}

fn client(target: &Target, user: User, protocol: Protocol) -> OdooClient {
    let (uid, key) = &target.users[&user];
    let url = url::Url::parse(&target.url).expect("odoo url");
    let mut config = OdooConfig::new(
        url,
        target.database.clone(),
        user.login(),
        Credential::ApiKey(SecretString::from(key.clone())),
    );
    config.protocol = protocol;
    config.uid = Some(*uid);
    config.timeout = Duration::from_secs(60);
    OdooClient::new(config).expect("client")
}

/// Replace "$name" and "$name.N" strings by bound values.
fn substitute(value: &Value, bound: &BTreeMap<String, Value>) -> Value {
    match value {
        Value::String(text) if text.starts_with('$') => {
            let mut parts = text[1..].split('.');
            let Some(mut current) = parts.next().and_then(|name| bound.get(name)).cloned() else {
                return Value::Null;
            };
            for part in parts {
                current = part
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| current.get(i).cloned())
                    .unwrap_or(Value::Null);
            }
            current
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, bound)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, bound)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Delete what earlier runs may have left (records named "Fidelity..."). Errors are ignored.
async fn sweep(admin: &OdooClient) {
    let everything = json!({"context": {"active_test": false}});
    let search = |model: &'static str, domain: Value| {
        let kwargs = everything.as_object().cloned().unwrap_or_default();
        async move {
            admin
                .execute_kw(model, "search", vec![domain], kwargs)
                .await
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        }
    };
    let orders = search(
        "sale.order",
        json!([["client_order_ref", "=like", "FIDELITY%"]]),
    )
    .await;
    if !orders.is_empty() {
        let _ = admin
            .execute_kw(
                "sale.order",
                "action_cancel",
                vec![json!(orders)],
                Map::new(),
            )
            .await;
        let _ = admin
            .execute_kw("sale.order", "unlink", vec![json!(orders)], Map::new())
            .await;
    }
    for (model, field) in [
        ("res.partner", "name"),
        ("res.partner.category", "name"),
        ("crm.lead", "name"),
    ] {
        let ids = search(model, json!([[field, "=like", "Fidelity%"]])).await;
        if !ids.is_empty() {
            let _ = admin
                .execute_kw(model, "unlink", vec![json!(ids)], Map::new())
                .await;
        }
    }
}

/// Counts of the kit's pristine demo data that scenarios depend on. Other tests that write to
/// the shared live server (tags, lines added to S00021, ...) change them; comparing then would
/// report differences that are not the simulator's.
async fn changed_demo_data(admin: &OdooClient) -> Vec<String> {
    let everything = json!({"active_test": false});
    let canaries: [(&str, Value, u64); 6] = [
        ("res.partner", json!([["id", "<=", 61]]), 61),
        ("res.partner.category", json!([]), 7),
        ("sale.order", json!([["id", "<=", 23]]), 23),
        ("sale.order.line", json!([["order_id", "<=", 23]]), 47),
        ("crm.lead", json!([]), 44),
        ("hr.employee", json!([]), 20),
    ];
    let mut changed = Vec::new();
    for (model, domain, want) in canaries {
        let mut kwargs = Map::new();
        kwargs.insert("context".into(), everything.clone());
        let got = admin
            .execute_kw(model, "search_count", vec![domain.clone()], kwargs)
            .await
            .ok()
            .and_then(|v| v.as_u64());
        if got != Some(want) {
            changed.push(format!(
                "{model} {domain}: {got:?} records, the kit has {want}"
            ));
        }
    }
    changed
}

/// Run every scenario in order over one protocol; returns the class of each.
async fn run(
    target: &Target,
    protocol: Protocol,
    scenarios: &[Scenario],
) -> BTreeMap<&'static str, String> {
    let clients: BTreeMap<User, OdooClient> = User::ALL
        .iter()
        .map(|u| (*u, client(target, *u, protocol)))
        .collect();
    sweep(&clients[&User::Admin]).await;
    let mut bound: BTreeMap<String, Value> = BTreeMap::new();
    let mut classes = BTreeMap::new();
    for sc in scenarios {
        let args = match substitute(&sc.args, &bound) {
            Value::Array(items) => items,
            other => vec![other],
        };
        let kwargs = substitute(&sc.kwargs, &bound)
            .as_object()
            .cloned()
            .unwrap_or_default();
        let result = clients[&sc.user]
            .execute_kw(sc.model, sc.method, args, kwargs)
            .await;
        if let (Some((name, pointer)), Ok(value)) = (sc.bind, &result) {
            let part = if pointer.is_empty() {
                Some(value.clone())
            } else {
                value.pointer(pointer).cloned()
            };
            let part = part.map(|p| match p {
                // A list of records binds its ids.
                Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                    Value::Array(items.iter().filter_map(|i| i.get("id").cloned()).collect())
                }
                other => other,
            });
            if let Some(part) = part {
                bound.insert(name.to_owned(), part);
            }
        }
        classes.insert(sc.id, classify(&result, &sc.check));
    }
    sweep(&clients[&User::Admin]).await;
    classes
}

// ---------------------------------------------------------------------------------------------
// expectations and known differences
// ---------------------------------------------------------------------------------------------

fn fidelity_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fidelity"
    ))
}

/// A listed difference: the simulator gives `sim` where real Odoo gives another class.
#[derive(Debug, Default, Clone)]
struct KnownDifference {
    scenario: String,
    reason: String,
    sim: String,
}

/// Parse a TOML string value (a basic string with `\"`, `\\`, `\n` and `\t` escapes).
fn toml_string(raw: &str) -> Option<String> {
    let inner = raw.trim().strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `known-differences.toml`: `[[difference]]` tables with `scenario`, `reason` and `sim`
/// (basic strings), and `#` comments. The workspace gives this test no TOML crate, and the
/// subset is small.
fn known_differences() -> BTreeMap<String, KnownDifference> {
    let path = fidelity_dir().join("known-differences.toml");
    let text = std::fs::read_to_string(&path).expect("known-differences.toml");
    let mut out = BTreeMap::new();
    let mut current: Option<KnownDifference> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "[[difference]]" {
            if let Some(done) = current.take() {
                out.insert(done.scenario.clone(), done);
            }
            current = Some(KnownDifference::default());
            continue;
        }
        let (key, raw) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("known-differences.toml:{}: expected key = value", n + 1));
        let value = toml_string(raw)
            .unwrap_or_else(|| panic!("known-differences.toml:{}: expected a string", n + 1));
        let entry = current
            .as_mut()
            .unwrap_or_else(|| panic!("known-differences.toml:{}: outside [[difference]]", n + 1));
        match key.trim() {
            "scenario" => entry.scenario = value,
            "reason" => entry.reason = value,
            "sim" => entry.sim = value,
            other => panic!("known-differences.toml:{}: unknown key {other}", n + 1),
        }
    }
    if let Some(done) = current.take() {
        out.insert(done.scenario.clone(), done);
    }
    for d in out.values() {
        assert!(
            !d.scenario.is_empty() && !d.reason.is_empty() && !d.sim.is_empty(),
            "known-differences.toml: every difference needs a scenario, a reason and the sim class: {d:?}"
        );
    }
    out
}

/// `expected.json`: scenario -> class (or {"xmlrpc": class, "jsonrpc": class} when the
/// protocols differ).
fn expected() -> Map<String, Value> {
    let path = fidelity_dir().join("expected.json");
    let text = std::fs::read_to_string(&path).expect("expected.json");
    match serde_json::from_str(&text).expect("expected.json is JSON") {
        Value::Object(map) => map,
        _ => panic!("expected.json must be an object"),
    }
}

fn expected_class<'a>(
    expected: &'a Map<String, Value>,
    id: &str,
    protocol: Protocol,
) -> Option<&'a str> {
    match expected.get(id)? {
        Value::String(class) => Some(class),
        Value::Object(by_protocol) => by_protocol.get(protocol.as_str()).and_then(Value::as_str),
        _ => None,
    }
}

async fn simulator() -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    warden_odoo_sim::serve(listener, SimOptions::default())
        .await
        .expect("simulator")
}

fn sim_target(sim: &SimHandle) -> Target {
    Target {
        name: "the simulator".to_owned(),
        url: sim.url(),
        database: sim.database().to_owned(),
        users: User::ALL
            .iter()
            .map(|u| {
                let demo = sim
                    .demo_users()
                    .into_iter()
                    .find(|d| d.login == u.login())
                    .expect("demo user");
                (*u, (demo.uid, demo.api_key))
            })
            .collect(),
    }
}

/// The live server of `ODOO_LIVE_*`, if configured.
fn live_target() -> Option<Target> {
    let url = std::env::var("ODOO_LIVE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let var = |name: String| {
        std::env::var(&name).unwrap_or_else(|_| panic!("ODOO_LIVE_URL is set but {name} is not"))
    };
    let users = User::ALL
        .iter()
        .map(|u| {
            let uid = var(format!("ODOO_LIVE_{}_UID", u.env_name()))
                .parse::<i64>()
                .expect("a numeric uid");
            (
                *u,
                (uid, var(format!("ODOO_LIVE_{}_API_KEY", u.env_name()))),
            )
        })
        .collect();
    Some(Target {
        name: url.clone(),
        url,
        database: var("ODOO_LIVE_DB".to_owned()),
        users,
    })
}

const PROTOCOLS: [Protocol; 2] = [Protocol::XmlRpc, Protocol::JsonRpc];

#[tokio::test]
async fn the_simulator_behaves_like_odoo_18() {
    let scenarios = scenarios();
    let mut ids: Vec<&str> = scenarios.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total, "scenario ids are unique");
    let known = known_differences();
    for id in known.keys() {
        assert!(
            ids.contains(&id.as_str()),
            "known-differences.toml names an unknown scenario {id}"
        );
    }

    let live = live_target();
    if let Some(live) = &live {
        let admin = client(live, User::Admin, Protocol::JsonRpc);
        sweep(&admin).await;
        let changed = changed_demo_data(&admin).await;
        assert!(
            changed.is_empty(),
            "the live server's demo data is not the kit's (other tests wrote to it); restore it with `up <state> --reset` and run again:\n{}",
            changed.join("\n")
        );
    }

    let mut sim_classes = BTreeMap::new();
    for protocol in PROTOCOLS {
        let sim = simulator().await;
        sim_classes.insert(
            protocol.as_str(),
            run(&sim_target(&sim), protocol, &scenarios).await,
        );
        sim.shutdown().await;
    }

    let mut failures = Vec::new();
    match live {
        Some(live) => {
            let mut live_classes = BTreeMap::new();
            for protocol in PROTOCOLS {
                live_classes.insert(protocol.as_str(), run(&live, protocol, &scenarios).await);
            }
            let mut listed_and_seen = Vec::new();
            for sc in &scenarios {
                for protocol in PROTOCOLS {
                    let sim = &sim_classes[protocol.as_str()][sc.id];
                    let real = &live_classes[protocol.as_str()][sc.id];
                    if sim == real {
                        continue;
                    }
                    match known.get(sc.id) {
                        Some(k) if k.sim == *sim => listed_and_seen.push(sc.id),
                        _ => failures.push(format!(
                            "{} ({}, {protocol}):\n    sim:  {sim}\n    odoo: {real}",
                            sc.id,
                            sc.user.login()
                        )),
                    }
                }
            }
            for id in known.keys() {
                if !listed_and_seen.contains(&id.as_str()) {
                    eprintln!(
                        "fidelity: known difference {id} no longer differs from the live server: remove it from known-differences.toml"
                    );
                }
            }
            if std::env::var("WARDEN_FIDELITY_BLESS").as_deref() == Ok("1") {
                let mut out = Map::new();
                for sc in &scenarios {
                    let x = &live_classes[Protocol::XmlRpc.as_str()][sc.id];
                    let j = &live_classes[Protocol::JsonRpc.as_str()][sc.id];
                    let value = if x == j {
                        json!(x)
                    } else {
                        json!({"xmlrpc": x, "jsonrpc": j})
                    };
                    out.insert(sc.id.to_owned(), value);
                }
                let text = serde_json::to_string_pretty(&Value::Object(out)).expect("json") + "\n";
                std::fs::write(fidelity_dir().join("expected.json"), text)
                    .expect("write expected.json");
                eprintln!("fidelity: expected.json rewritten from {}", live.name);
            }
        }
        None => {
            eprintln!(
                "\n==========================================================================\n\
                 fidelity: ODOO_LIVE_URL is not set: the LIVE COMPARISON WITH REAL ODOO WAS SKIPPED.\n\
                 The simulator is only compared with testdata/fidelity/expected.json.\n\
                 To compare with a real Odoo 18: set -a; . <state>/odoo.env; set +a\n\
                 ==========================================================================\n"
            );
        }
    }

    let expected = expected();
    for sc in &scenarios {
        for protocol in PROTOCOLS {
            let sim = &sim_classes[protocol.as_str()][sc.id];
            let want = expected_class(&expected, sc.id, protocol);
            if want == Some(sim.as_str()) {
                continue;
            }
            if known.get(sc.id).is_some_and(|k| k.sim == *sim) {
                continue;
            }
            failures.push(format!(
                "{} ({}, {protocol}) against expected.json:\n    sim:      {sim}\n    expected: {}",
                sc.id,
                sc.user.login(),
                want.unwrap_or("<missing>")
            ));
        }
    }
    eprintln!(
        "fidelity: {} scenarios, {} known differences",
        scenarios.len(),
        known.len()
    );
    assert!(
        failures.is_empty(),
        "{} fidelity failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
