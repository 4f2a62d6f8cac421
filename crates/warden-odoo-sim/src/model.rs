//! The schema of the simulated database: models, their fields (with Odoo's metadata), access
//! rights per group, and the groups themselves. Descriptions, access rights, field attributes
//! (`store`, `depends`, `related`, ...) and the ids of `ir.model` are those of the Odoo 18 demo
//! database of the test kit.

use std::sync::OnceLock;

/// A group's xml id.
pub(crate) type GroupId = &'static str;

pub(crate) const G_USER: GroupId = "base.group_user";
pub(crate) const G_PORTAL: GroupId = "base.group_portal";
pub(crate) const G_PUBLIC: GroupId = "base.group_public";
pub(crate) const G_SYSTEM: GroupId = "base.group_system";
pub(crate) const G_ERP_MANAGER: GroupId = "base.group_erp_manager";
pub(crate) const G_NO_ONE: GroupId = "base.group_no_one";
pub(crate) const G_PARTNER_MANAGER: GroupId = "base.group_partner_manager";
pub(crate) const G_PRODUCT_MANAGER: GroupId = "product.group_product_manager";
pub(crate) const G_SALESMAN: GroupId = "sales_team.group_sale_salesman";
pub(crate) const G_SALESMAN_ALL: GroupId = "sales_team.group_sale_salesman_all_leads";
pub(crate) const G_SALE_MANAGER: GroupId = "sales_team.group_sale_manager";
pub(crate) const G_ACCOUNT_READONLY: GroupId = "account.group_account_readonly";
pub(crate) const G_ACCOUNT_INVOICE: GroupId = "account.group_account_invoice";
pub(crate) const G_ACCOUNT_USER: GroupId = "account.group_account_user";
pub(crate) const G_ACCOUNT_MANAGER: GroupId = "account.group_account_manager";
pub(crate) const G_HR_USER: GroupId = "hr.group_hr_user";
pub(crate) const G_HR_MANAGER: GroupId = "hr.group_hr_manager";

/// (xml id, record id in res.groups, category, category id, name), as in the demo database.
pub(crate) const GROUPS: &[(GroupId, i64, &str, i64, &str)] = &[
    (G_USER, 1, "User types", 73, "Internal User"),
    (G_ERP_MANAGER, 2, "Administration", 81, "Access Rights"),
    (G_SYSTEM, 4, "Administration", 81, "Settings"),
    (G_NO_ONE, 7, "Extra Rights", 82, "Technical Features"),
    (G_PARTNER_MANAGER, 9, "Extra Rights", 82, "Contact Creation"),
    (G_PORTAL, 10, "User types", 73, "Portal"),
    (G_PUBLIC, 11, "User types", 73, "Public"),
    (
        G_PRODUCT_MANAGER,
        20,
        "Extra Rights",
        82,
        "Product Creation",
    ),
    (G_SALESMAN, 21, "Sales", 9, "User: Own Documents Only"),
    (G_SALESMAN_ALL, 22, "Sales", 9, "User: All Documents"),
    (G_SALE_MANAGER, 23, "Sales", 9, "Administrator"),
    (
        G_ACCOUNT_READONLY,
        25,
        "Technical",
        4,
        "Show Accounting Features - Readonly",
    ),
    (G_ACCOUNT_INVOICE, 26, "Invoicing", 2, "Invoicing"),
    (
        G_ACCOUNT_USER,
        28,
        "Technical",
        4,
        "Show Full Accounting Features",
    ),
    (G_ACCOUNT_MANAGER, 29, "Invoicing", 2, "Administrator"),
    (
        G_HR_USER,
        38,
        "Employees",
        22,
        "Officer: Manage all employees",
    ),
    (G_HR_MANAGER, 39, "Employees", 22, "Administrator"),
];

/// "Category/Name" as Odoo lists a group in model access errors.
pub(crate) fn group_full_name(group: GroupId) -> String {
    GROUPS
        .iter()
        .find(|g| g.0 == group)
        .map(|g| format!("{}/{}", g.2, g.4))
        .unwrap_or_else(|| group.to_owned())
}

/// "Category / Name" as Odoo lists a group in field access errors.
pub(crate) fn group_spaced_name(group: GroupId) -> String {
    GROUPS
        .iter()
        .find(|g| g.0 == group)
        .map(|g| format!("{} / {}", g.2, g.4))
        .unwrap_or_else(|| group.to_owned())
}

/// Field types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Ty {
    Char,
    Text,
    Html,
    Int,
    Float,
    Monetary,
    Bool,
    Date,
    Datetime,
    Image,
    Sel(&'static [(&'static str, &'static str)]),
    M2o(&'static str),
    /// comodel, inverse many2one field
    O2m(&'static str, &'static str),
    M2m(&'static str),
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Char => "char",
            Ty::Text => "text",
            Ty::Html => "html",
            Ty::Int => "integer",
            Ty::Float => "float",
            Ty::Monetary => "monetary",
            Ty::Bool => "boolean",
            Ty::Date => "date",
            Ty::Datetime => "datetime",
            Ty::Image => "binary",
            Ty::Sel(_) => "selection",
            Ty::M2o(_) => "many2one",
            Ty::O2m(..) => "one2many",
            Ty::M2m(_) => "many2many",
        }
    }

    pub(crate) fn relation(self) -> Option<&'static str> {
        match self {
            Ty::M2o(m) | Ty::O2m(m, _) | Ty::M2m(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn is_x2many(self) -> bool {
        matches!(self, Ty::O2m(..) | Ty::M2m(_))
    }

    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Monetary)
    }

    pub(crate) fn is_text(self) -> bool {
        matches!(self, Ty::Char | Ty::Text | Ty::Html)
    }
}

/// One field of a model.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) string: &'static str,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
    pub(crate) readonly: bool,
    pub(crate) help: Option<&'static str>,
    /// Only users in this group may read or write the field.
    pub(crate) groups: Option<GroupId>,
    /// Computed by the simulator, never written as such.
    pub(crate) computed: bool,
    /// `store` as `fields_get` reports it.
    pub(crate) stored: bool,
    /// `searchable` as `fields_get` reports it; a domain on an unsearchable field is ignored.
    pub(crate) searchable: bool,
    /// Translated per `context.lang`.
    pub(crate) translate: bool,
    /// `depends` as `fields_get` reports it.
    pub(crate) depends: &'static [&'static str],
    /// A related field: the dotted path it follows (read, searched and written through it).
    pub(crate) related: Option<&'static str>,
    /// `related` as `fields_get` reports it for a field the simulator stores itself (its path
    /// goes through a model the simulator does not have).
    pub(crate) shown_related: Option<&'static str>,
    /// Further `fields_get` attributes of this field (`aggregator`, `digits`, `size`, ...).
    pub(crate) extra: &'static [(&'static str, Attr)],
}

/// The value of a further `fields_get` attribute.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Attr {
    Bool(bool),
    Str(&'static str),
    Int(i64),
    /// `digits`: (precision, scale).
    Digits(i64, i64),
}

const SUM: &[(&str, Attr)] = &[("aggregator", Attr::Str("sum"))];
const SUM_DIGITS: &[(&str, Attr)] = &[
    ("aggregator", Attr::Str("sum")),
    ("digits", Attr::Digits(16, 2)),
];
const SUM_CURRENCY: &[(&str, Attr)] = &[
    ("aggregator", Attr::Str("sum")),
    ("currency_field", Attr::Str("currency_id")),
];
const CHANGE_DEFAULT: &[(&str, Attr)] = &[("change_default", Attr::Bool(true))];

fn f(name: &'static str, string: &'static str, ty: Ty) -> Field {
    Field {
        name,
        string,
        ty,
        required: false,
        readonly: false,
        help: None,
        groups: None,
        computed: false,
        stored: true,
        searchable: true,
        translate: false,
        depends: &[],
        related: None,
        shown_related: None,
        extra: &[],
    }
}

impl Field {
    fn req(mut self) -> Self {
        self.required = true;
        self
    }
    fn ro(mut self) -> Self {
        self.readonly = true;
        self
    }
    /// Computed and not stored.
    fn comp(mut self) -> Self {
        self.computed = true;
        self.readonly = true;
        self.stored = false;
        self
    }
    /// Computed and stored (`store=True`).
    fn comp_stored(mut self) -> Self {
        self.computed = true;
        self.readonly = true;
        self
    }
    fn help(mut self, help: &'static str) -> Self {
        self.help = Some(help);
        self
    }
    fn groups(mut self, group: GroupId) -> Self {
        self.groups = Some(group);
        self
    }
    fn tr(mut self) -> Self {
        self.translate = true;
        self
    }
    fn dep(mut self, depends: &'static [&'static str]) -> Self {
        self.depends = depends;
        self
    }
    fn nosearch(mut self) -> Self {
        self.searchable = false;
        self
    }
    fn writable(mut self) -> Self {
        self.readonly = false;
        self
    }
    /// A related field (not stored unless `stored` follows).
    fn rel(mut self, path: &'static str, depends: &'static [&'static str]) -> Self {
        self.related = Some(path);
        self.depends = depends;
        self.stored = false;
        self
    }
    fn stored(mut self) -> Self {
        self.stored = true;
        self
    }
    /// Reported as related to `path` (which the simulator does not model) and stored here.
    fn shown_rel(mut self, path: &'static str, depends: &'static [&'static str]) -> Self {
        self.shown_related = Some(path);
        self.depends = depends;
        self
    }
    fn string(mut self, string: &'static str) -> Self {
        self.string = string;
        self
    }
    fn opt(mut self) -> Self {
        self.required = false;
        self
    }
    fn extra(mut self, extra: &'static [(&'static str, Attr)]) -> Self {
        self.extra = extra;
        self
    }
    /// `groupable` as `fields_get` reports it.
    pub(crate) fn groupable(&self) -> bool {
        ((self.stored && !matches!(self.ty, Ty::O2m(..))) || self.related.is_some())
            && self.ty != Ty::Image
    }
    /// `related` as `fields_get` reports it.
    pub(crate) fn related_path(&self) -> Option<&'static str> {
        self.related.or(self.shown_related)
    }
    /// `sortable` as `fields_get` reports it.
    pub(crate) fn sortable(&self) -> bool {
        ((self.stored && !self.ty.is_x2many()) || self.related.is_some()) && self.ty != Ty::Image
    }
}

/// Access rights of one group on a model: read, write, create, unlink.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acl {
    pub(crate) group: GroupId,
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) create: bool,
    pub(crate) unlink: bool,
}

const fn acl(group: GroupId, rwcu: &str) -> Acl {
    let b = rwcu.as_bytes();
    Acl {
        group,
        read: b[0] == b'1',
        write: b[1] == b'1',
        create: b[2] == b'1',
        unlink: b[3] == b'1',
    }
}

/// Operations checked by access rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Read,
    Write,
    Create,
    Unlink,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Create => "create",
            Op::Unlink => "unlink",
        }
    }
}

/// A model's schema.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    /// The record id of the model in `ir.model`.
    pub(crate) ir_id: i64,
    /// The table holding the records (another model's for `hr.employee.public`).
    pub(crate) table: &'static str,
    pub(crate) order: &'static str,
    /// `_rec_names_search`, or `[_rec_name]`: what a search on `display_name` looks at.
    pub(crate) rec_names: &'static [&'static str],
    pub(crate) fields: Vec<Field>,
    pub(crate) acls: Vec<Acl>,
    /// The parent field checked for recursion, with the error message.
    pub(crate) parent: Option<(&'static str, &'static str)>,
    /// Public methods besides the ORM's.
    pub(crate) actions: &'static [&'static str],
}

impl Model {
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub(crate) fn has_active(&self) -> bool {
        self.field("active").is_some()
    }

    pub(crate) fn allowed(&self, groups: &[GroupId], op: Op) -> bool {
        self.acls.iter().any(|a| {
            groups.contains(&a.group)
                && match op {
                    Op::Read => a.read,
                    Op::Write => a.write,
                    Op::Create => a.create,
                    Op::Unlink => a.unlink,
                }
        })
    }
}

const PARTNER_TYPES: &[(&str, &str)] = &[
    ("contact", "Contact"),
    ("invoice", "Invoice Address"),
    ("delivery", "Delivery Address"),
    ("other", "Other Address"),
];
const COMPANY_TYPES: &[(&str, &str)] = &[("person", "Individual"), ("company", "Company")];
const SO_STATES: &[(&str, &str)] = &[
    ("draft", "Quotation"),
    ("sent", "Quotation Sent"),
    ("sale", "Sales Order"),
    ("cancel", "Cancelled"),
];
const LEAD_TYPES: &[(&str, &str)] = &[("lead", "Lead"), ("opportunity", "Opportunity")];
const PRIORITIES: &[(&str, &str)] = &[
    ("0", "Low"),
    ("1", "Medium"),
    ("2", "High"),
    ("3", "Very High"),
];
const AMOUNT_DEPENDS: &[&str] = &["order_line.price_subtotal", "currency_id", "company_id"];
const LINE_AMOUNT_DEPENDS: &[&str] = &["product_uom_qty", "discount", "price_unit", "tax_id"];
const PRODUCT_ACTIVE_HELP: &str =
    "If unchecked, it will allow you to hide the product without removing it.";
const FIELD_TYPES: &[(&str, &str)] = &[
    ("binary", "binary"),
    ("boolean", "boolean"),
    ("char", "char"),
    ("date", "date"),
    ("datetime", "datetime"),
    ("float", "float"),
    ("html", "html"),
    ("integer", "integer"),
    ("json", "json"),
    ("many2many", "many2many"),
    ("many2one", "many2one"),
    ("many2one_reference", "many2one_reference"),
    ("monetary", "monetary"),
    ("one2many", "one2many"),
    ("properties", "properties"),
    ("properties_definition", "properties_definition"),
    ("reference", "reference"),
    ("selection", "selection"),
    ("text", "text"),
];
const WORK_CONTACT: &[&str] = &[
    "work_contact_id",
    "work_contact_id.mobile",
    "work_contact_id.email",
];
const ARCHIVE: &[&str] = &["action_archive", "action_unarchive"];

/// The fields every model has: `id`, `display_name` and the log fields.
fn audit(fields: &mut Vec<Field>, display_depends: &'static [&'static str]) {
    fields.push(f("id", "ID", Ty::Int).comp_stored());
    fields.push(
        f("display_name", "Display Name", Ty::Char)
            .comp()
            .dep(display_depends),
    );
    fields.push(f("create_uid", "Created by", Ty::M2o("res.users")).ro());
    fields.push(f("create_date", "Created on", Ty::Datetime).ro());
    fields.push(f("write_uid", "Last Updated by", Ty::M2o("res.users")).ro());
    fields.push(f("write_date", "Last Updated on", Ty::Datetime).ro());
}

/// Change a field of a list already built (the log fields, a shared list).
fn patch(fields: &mut [Field], name: &str, change: impl FnOnce(Field) -> Field) {
    if let Some(i) = fields.iter().position(|f| f.name == name) {
        let field = fields[i].clone();
        fields[i] = change(field);
    }
}

struct Spec {
    name: &'static str,
    description: &'static str,
    ir_id: i64,
    order: &'static str,
    rec_names: &'static [&'static str],
    acls: Vec<Acl>,
    parent: Option<(&'static str, &'static str)>,
    actions: &'static [&'static str],
}

fn define(spec: Spec, fields: Vec<Field>) -> Model {
    Model {
        name: spec.name,
        description: spec.description,
        ir_id: spec.ir_id,
        table: spec.name,
        order: spec.order,
        rec_names: spec.rec_names,
        fields,
        acls: spec.acls,
        parent: spec.parent,
        actions: spec.actions,
    }
}

#[allow(clippy::too_many_lines)]
fn build() -> Vec<Model> {
    let mut models = Vec::new();

    let mut fields = vec![
        f("name", "Name", Ty::Char).extra(&[("default_export_compatible", Attr::Bool(true))]),
        f("complete_name", "Complete Name", Ty::Char)
            .comp_stored()
            .dep(&[
                "is_company",
                "name",
                "parent_id.name",
                "type",
                "company_name",
                "commercial_company_name",
            ]),
        f("parent_id", "Related Company", Ty::M2o("res.partner")),
        f("child_ids", "Contact", Ty::O2m("res.partner", "parent_id")).dep(&["child_ids.active"]),
        f("sale_order_ids", "Sales Order", Ty::O2m("sale.order", "partner_id")),
        f("category_id", "Tags", Ty::M2m("res.partner.category")),
        f("active", "Active", Ty::Bool),
        f("type", "Address Type", Ty::Sel(PARTNER_TYPES)),
        f("email", "Email", Ty::Char),
        f("email_normalized", "Normalized Email", Ty::Char)
            .comp_stored()
            .dep(&["email"])
            .help("This field is used to search on email address as the primary email field can contain more than strictly an email address."),f("email_formatted", "Formatted Email", Ty::Char)
            .comp()
            .nosearch()
            .dep(&["name", "email"])
            .help("Format email address \"Name <email@domain>\""),
        f("phone", "Phone", Ty::Char),
        f("mobile", "Mobile", Ty::Char),
        f("phone_sanitized", "Sanitized Number", Ty::Char)
            .comp_stored()
            .dep(&["country_id", "mobile", "phone"])
            .help("Field used to store sanitized phone number. Helps speeding up searches and comparisons."),// A search-only field: Odoo reads it as False and searches phone and mobile.
        f("phone_mobile_search", "Phone/Mobile", Ty::Char)
            .comp()
            .writable(),
        f("website", "Website Link", Ty::Char),
        f("vat", "Tax ID", Ty::Char).help(
            "The Tax Identification Number. Values here will be validated based on the country format. You can use '/' to indicate that the partner is not subject to tax.",
        ),
        f("ref", "Reference", Ty::Char),
        f("company_registry", "Company ID", Ty::Char).help(
            "The registry number of the company. Use it if it is different from the Tax ID. It must be unique across all partners of a same country",
        ),
        f("barcode", "Barcode", Ty::Char)
            .help("Use a barcode to identify this contact.")
            .extra(&[("company_dependent", Attr::Bool(true))]),f("is_company", "Is a Company", Ty::Bool)
            .help("Check if the contact is a company, otherwise it is a person"),
        f("company_type", "Company Type", Ty::Sel(COMPANY_TYPES))
            .comp()
            .writable()
            .nosearch()
            .dep(&["is_company"]),
        f("company_name", "Company Name", Ty::Char),
        f(
            "commercial_partner_id",
            "Commercial Entity",
            Ty::M2o("res.partner"),
        )
        .comp_stored()
        .dep(&["is_company", "parent_id.commercial_partner_id"]),
        f("commercial_company_name", "Company Name Entity", Ty::Char)
            .comp_stored()
            .dep(&[
                "company_name",
                "parent_id.is_company",
                "commercial_partner_id.name",
            ]),
        f("function", "Job Position", Ty::Char),
        f("street", "Street", Ty::Char),
        f("city", "City", Ty::Char),
        f("zip", "Zip", Ty::Char).extra(CHANGE_DEFAULT),
        f("country_id", "Country", Ty::M2o("res.country")),
        f("company_id", "Company", Ty::M2o("res.company")),f("user_id", "Salesperson", Ty::M2o("res.users"))
            .dep(&["parent_id"])
            .help("The internal user in charge of this contact."),f("comment", "Notes", Ty::Html),
    ];
    audit(
        &mut fields,
        &[
            "complete_name",
            "email",
            "vat",
            "state_id",
            "country_id",
            "commercial_company_name",
            "name",
        ],
    );
    models.push(define(
        Spec {
            name: "res.partner",
            description: "Contact",
            ir_id: 87,
            order: "complete_name asc, id desc",
            rec_names: &["complete_name", "email", "ref", "vat", "company_registry"],
            acls: vec![
                acl(G_USER, "1000"),
                acl(G_PORTAL, "1000"),
                acl(G_PUBLIC, "1000"),
                acl(G_SALESMAN, "1110"),
                acl(G_SALE_MANAGER, "1110"),
                acl(G_ACCOUNT_MANAGER, "1000"),
                acl(G_PARTNER_MANAGER, "1111"),
            ],
            parent: Some((
                "parent_id",
                "You cannot create recursive Partner hierarchies.",
            )),
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Name", Ty::Char).req().tr(),
        f("color", "Color", Ty::Int).extra(&[("aggregator", Attr::Bool(false))]),
        f("parent_id", "Category", Ty::M2o("res.partner.category")),
        f(
            "child_ids",
            "Child Tags",
            Ty::O2m("res.partner.category", "parent_id"),
        ),
        f("active", "Active", Ty::Bool)
            .help("The active field allows you to hide the category without removing it."),
    ];
    audit(&mut fields, &["parent_id", "name"]);
    models.push(define(
        Spec {
            name: "res.partner.category",
            description: "Partner Tags",
            ir_id: 85,
            order: "name, id",
            rec_names: &["name"],
            acls: vec![
                acl(G_USER, "1000"),
                acl(G_SALESMAN, "1110"),
                acl(G_SALE_MANAGER, "1000"),
                acl(G_PARTNER_MANAGER, "1111"),
            ],
            parent: Some(("parent_id", "You can not create recursive tags.")),
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Country Name", Ty::Char).req().tr(),
        f("code", "Country Code", Ty::Char)
            .req()
            .extra(&[("size", Attr::Int(2))])
            .help("The ISO country code in two chars. \nYou can use this field for quick search."),
        f("phone_code", "Country Calling Code", Ty::Int).extra(SUM),
    ];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "res.country",
            description: "Country",
            ir_id: 79,
            order: "name, id",
            rec_names: &["name", "code"],
            acls: vec![
                acl(G_USER, "1000"),
                acl(G_PORTAL, "1000"),
                acl(G_PUBLIC, "1000"),
                acl(G_PARTNER_MANAGER, "1000"),
                acl(G_SYSTEM, "1111"),
            ],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Company Name", Ty::Char)
            .req()
            .rel("partner_id.name", &["partner_id.name"])
            .stored(),
        f("partner_id", "Partner", Ty::M2o("res.partner")).req(),
        f("currency_id", "Currency", Ty::M2o("res.currency")).req(),
        f("email", "Email", Ty::Char)
            .rel("partner_id.email", &["partner_id.email"])
            .stored(),
        f("phone", "Phone", Ty::Char)
            .rel("partner_id.phone", &["partner_id.phone"])
            .stored(), // The address of the company's partner (an inverse writes it back there).
        f("country_id", "Country", Ty::M2o("res.country"))
            .comp()
            .writable()
            .nosearch()
            .dep(&[
                "partner_id.street",
                "partner_id.street2",
                "partner_id.city",
                "partner_id.zip",
                "partner_id.state_id",
                "partner_id.country_id",
            ]),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "res.company",
            description: "Companies",
            ir_id: 95,
            order: "sequence, name",
            rec_names: &["name"],
            acls: vec![
                acl(G_USER, "1000"),
                acl(G_PORTAL, "1000"),
                acl(G_PUBLIC, "1000"),
                acl(G_ERP_MANAGER, "1111"),
            ],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Currency", Ty::Char)
            .req()
            .extra(&[("size", Attr::Int(3))])
            .help("Currency Code (ISO 4217)"),
        f("symbol", "Symbol", Ty::Char)
            .req()
            .help("Currency sign, to be used when printing amounts."),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "res.currency",
            description: "Currency",
            ir_id: 93,
            order: "active desc, name",
            rec_names: &["name"],
            acls: vec![
                acl(G_USER, "1000"),
                acl(G_PORTAL, "1000"),
                acl(G_PUBLIC, "1000"),
                acl(G_ACCOUNT_MANAGER, "1111"),
                acl(G_SYSTEM, "1111"),
            ],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Name", Ty::Char).rel("partner_id.name", &["partner_id.name"]),
        f("login", "Login", Ty::Char)
            .req()
            .help("Used to log into the system"),
        f("partner_id", "Related Partner", Ty::M2o("res.partner"))
            .req()
            .help("Partner-related data of the user"),
        f("email", "Email", Ty::Char).rel("partner_id.email", &["partner_id.email"]),
        f("company_id", "Company", Ty::M2o("res.company"))
            .req()
            .help("The default company for this user."),
        f("groups_id", "Groups", Ty::M2m("res.groups")),
        f("share", "Share User", Ty::Bool)
            .comp_stored()
            .dep(&["groups_id"])
            .help(
                "External user with limited access, created only for the purpose of sharing data.",
            ),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "res.users",
            description: "User",
            ir_id: 98,
            order: "name, login",
            rec_names: &["name"],
            acls: vec![
                acl(G_USER, "1000"),
                acl(G_PORTAL, "1000"),
                acl(G_PUBLIC, "1000"),
                acl(G_ERP_MANAGER, "1111"),
            ],
            parent: None,
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Name", Ty::Char).req().tr(),
        f("full_name", "Group Name", Ty::Char)
            .comp()
            .dep(&["category_id.name", "name"]),
        f("category_id", "Application", Ty::M2o("ir.module.category")),
        f("users", "Users", Ty::M2m("res.users")),
    ];
    audit(&mut fields, &["full_name"]);
    models.push(define(
        Spec {
            name: "res.groups",
            description: "Access Groups",
            ir_id: 96,
            order: "name",
            rec_names: &["name"],
            acls: vec![acl(G_USER, "1000"), acl(G_ERP_MANAGER, "1111")],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let product_acls = || {
        vec![
            acl(G_USER, "1000"),
            acl(G_PRODUCT_MANAGER, "1111"),
            acl(G_SALESMAN, "1000"),
            acl(G_SALE_MANAGER, "1111"),
        ]
    };
    let mut fields = vec![
        f("name", "Name", Ty::Char).req().tr(),
        f("default_code", "Internal Reference", Ty::Char)
            .comp_stored()
            .writable()
            .dep(&["product_variant_ids.default_code"]),
        f("list_price", "Sales Price", Ty::Float)
            .help("Price at which the product is sold to customers.")
            .extra(SUM_DIGITS),
        f("description_sale", "Sales Description", Ty::Text).tr().help("A description of the Product that you want to communicate to your customers. This description will be copied to every Sales Order, Delivery Order and Customer Invoice/Credit Note",
        ),
        f(
            "product_variant_ids",
            "Products",
            Ty::O2m("product.product", "product_tmpl_id"),
        )
        .req(),
        f("active", "Active", Ty::Bool).help(PRODUCT_ACTIVE_HELP),
    ];
    audit(&mut fields, &["name", "default_code", "name"]);
    models.push(define(
        Spec {
            name: "product.template",
            description: "Product",
            ir_id: 390,
            order: "name",
            rec_names: &["name", "default_code"],
            acls: product_acls(),
            parent: None,
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields = vec![
        f(
            "product_tmpl_id",
            "Product Template",
            Ty::M2o("product.template"),
        )
        .req(),
        f("name", "Name", Ty::Char)
            .req()
            .tr()
            .rel("product_tmpl_id.name", &["product_tmpl_id.name"]),
        f("default_code", "Internal Reference", Ty::Char),
        f("barcode", "Barcode", Ty::Char)
            .help("International Article Number used for product identification."),
        f("list_price", "Sales Price", Ty::Float)
            .rel(
                "product_tmpl_id.list_price",
                &["product_tmpl_id.list_price"],
            )
            .help("Price at which the product is sold to customers.")
            .extra(SUM_DIGITS),
        f("active", "Active", Ty::Bool).help(PRODUCT_ACTIVE_HELP),
    ];
    audit(
        &mut fields,
        &["name", "default_code", "product_tmpl_id", "name"],
    );
    patch(&mut fields, "write_date", |f| {
        f.string("Write Date").dep(&["product_tmpl_id.write_date"])
    });
    let mut acls = product_acls();
    acls.push(acl(G_ACCOUNT_READONLY, "1000"));
    acls.push(acl(G_ACCOUNT_MANAGER, "1111"));
    models.push(define(
        Spec {
            name: "product.product",
            description: "Product Variant",
            ir_id: 391,
            order: "default_code, name, id",
            rec_names: &["name", "default_code", "barcode"],
            acls,
            parent: None,
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields =
        vec![
        f("name", "Order Reference", Ty::Char).req(),
        f("partner_id", "Customer", Ty::M2o("res.partner"))
            .req()
            .extra(CHANGE_DEFAULT),
        f("date_order", "Order Date", Ty::Datetime)
            .req()
            .help("Creation date of draft/sent orders,\nConfirmation date of confirmed orders."),
        f("validity_date", "Expiration", Ty::Date)
            .dep(&["sale_order_template_id", "company_id"])
            .help(
                "Validity of the order, after that you will not able to sign & pay the quotation.",
            ),
        f("state", "Status", Ty::Sel(SO_STATES)).ro(),
        f("user_id", "Salesperson", Ty::M2o("res.users")).dep(&["partner_id"]),
        f("company_id", "Company", Ty::M2o("res.company")).req(),
        f("currency_id", "Currency", Ty::M2o("res.currency"))
            .ro()
            .dep(&["pricelist_id", "company_id"]),f(
            "order_line",
            "Order Lines",
            Ty::O2m("sale.order.line", "order_id"),
        ),
        f("amount_untaxed", "Untaxed Amount", Ty::Monetary)
            .ro()
            .dep(AMOUNT_DEPENDS)
            .extra(SUM_CURRENCY),
        f("amount_tax", "Taxes", Ty::Monetary)
            .ro()
            .dep(AMOUNT_DEPENDS)
            .extra(SUM_CURRENCY),
        f("amount_total", "Total", Ty::Monetary)
            .ro()
            .dep(AMOUNT_DEPENDS)
            .extra(SUM_CURRENCY),f("client_order_ref", "Customer Reference", Ty::Char),
        f("origin", "Source Document", Ty::Char)
            .help("Reference of the document that generated this sales order request"),
        f("note", "Terms and conditions", Ty::Html).dep(&[
            "partner_id",
            "sale_order_template_id",
            "partner_id",
        ]),
    ];
    audit(&mut fields, &["partner_id", "name"]);
    patch(&mut fields, "create_date", |f| f.string("Creation Date"));
    models.push(define(
        Spec {
            name: "sale.order",
            description: "Sales Order",
            ir_id: 563,
            order: "date_order desc, id desc",
            rec_names: &["name"],
            acls: vec![
                acl(G_PORTAL, "1000"),
                acl(G_SALESMAN, "1110"),
                acl(G_SALE_MANAGER, "1111"),
                acl(G_ACCOUNT_READONLY, "1000"),
                acl(G_ACCOUNT_INVOICE, "1100"),
                acl(G_ACCOUNT_USER, "1100"),
            ],
            parent: None,
            actions: &["action_confirm", "action_cancel", "action_draft"],
        },
        fields,
    ));

    let mut fields = vec![
        f("order_id", "Order Reference", Ty::M2o("sale.order")).req(),
        f("sequence", "Sequence", Ty::Int),
        f("name", "Description", Ty::Text).req().dep(&[
            "product_id",
            "product_id",
            "linked_line_id",
            "linked_line_ids",
        ]),
        f("product_id", "Product", Ty::M2o("product.product")).extra(CHANGE_DEFAULT),
        f("product_uom_qty", "Quantity", Ty::Float)
            .req()
            .dep(&["display_type", "product_id", "product_packaging_qty"])
            .extra(SUM_DIGITS),
        f("price_unit", "Unit Price", Ty::Float)
            .req()
            .dep(&["product_id", "product_uom", "product_uom_qty"])
            .extra(SUM_DIGITS),
        f("price_subtotal", "Subtotal", Ty::Monetary)
            .ro()
            .dep(LINE_AMOUNT_DEPENDS)
            .extra(SUM_CURRENCY),
        f("price_total", "Total", Ty::Monetary)
            .ro()
            .dep(LINE_AMOUNT_DEPENDS)
            .extra(SUM_CURRENCY),
        f("salesman_id", "Salesperson", Ty::M2o("res.users"))
            .ro()
            .rel("order_id.user_id", &["order_id.user_id"])
            .stored(),
        f("order_partner_id", "Customer", Ty::M2o("res.partner"))
            .ro()
            .rel("order_id.partner_id", &["order_id.partner_id"])
            .stored(),
        f("state", "Order Status", Ty::Sel(SO_STATES))
            .ro()
            .rel("order_id.state", &["order_id.state"])
            .stored(),
    ];
    audit(
        &mut fields,
        &["order_partner_id", "order_id", "product_id", "name"],
    );
    models.push(define(
        Spec {
            name: "sale.order.line",
            description: "Sales Order Line",
            ir_id: 564,
            order: "order_id, sequence, id",
            rec_names: &["name", "order_id.name"],
            acls: vec![
                acl(G_PORTAL, "1000"),
                acl(G_SALESMAN, "1111"),
                acl(G_ACCOUNT_READONLY, "1000"),
                acl(G_ACCOUNT_INVOICE, "1100"),
                acl(G_ACCOUNT_USER, "1100"),
            ],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Opportunity", Ty::Char).req().dep(&["partner_id"]),
        f("partner_id", "Customer", Ty::M2o("res.partner")).help(
            "Linked partner (optional). Usually created when converting the lead. You can find a partner by its Name, TIN, Email or Internal Reference.",
        ),f("user_id", "Salesperson", Ty::M2o("res.users")),
        f("type", "Type", Ty::Sel(LEAD_TYPES)).req(),
        f("priority", "Priority", Ty::Sel(PRIORITIES)),
        f("expected_revenue", "Expected Revenue", Ty::Monetary).extra(&[
            ("aggregator", Attr::Str("sum")),
            ("currency_field", Attr::Str("company_currency")),
        ]),
        f("probability", "Probability", Ty::Float)
            .extra(&[("aggregator", Attr::Str("avg"))])
            .dep(&["stage_id",
            "team_id",
            "phone_state",
            "email_state",
        ]),
        f("email_from", "Email", Ty::Char).dep(&["partner_id.email"]),
        f("phone", "Phone", Ty::Char).dep(&["partner_id.phone"]),f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "crm.lead",
            description: "Lead/Opportunity",
            ir_id: 511,
            order: "priority desc, id desc",
            rec_names: &["name"],
            acls: vec![acl(G_SALESMAN, "1110"), acl(G_SALE_MANAGER, "1111")],
            parent: None,
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Department Name", Ty::Char).req().tr(),
        f("complete_name", "Complete Name", Ty::Char)
            .comp_stored()
            .dep(&["name", "parent_id.complete_name"]),
        f("parent_id", "Parent Department", Ty::M2o("hr.department")),
        f(
            "child_ids",
            "Child Departments",
            Ty::O2m("hr.department", "parent_id"),
        ),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields, &["complete_name"]);
    models.push(define(
        Spec {
            name: "hr.department",
            description: "Department",
            ir_id: 528,
            order: "name",
            rec_names: &["complete_name"],
            acls: vec![acl(G_USER, "1100"), acl(G_HR_USER, "1111")],
            parent: Some(("parent_id", "You cannot create recursive departments.")),
            actions: ARCHIVE,
        },
        fields,
    ));

    let hr = G_HR_USER;
    let mut fields = employee_public_fields("hr.employee");
    patch(&mut fields, "name", |f| {
        f.shown_rel("resource_id.name", &["resource_id.name"])
    });
    patch(&mut fields, "user_id", |f| {
        f.shown_rel("resource_id.user_id", &["resource_id.user_id"])
    });
    patch(&mut fields, "company_id", |f| {
        f.shown_rel("resource_id.company_id", &["resource_id.company_id"])
    });
    patch(&mut fields, "active", |f| {
        f.shown_rel("resource_id.active", &["resource_id.active"])
            .help("If the active field is set to False, it will allow you to hide the resource record without removing it.")
    });
    patch(&mut fields, "image_128", |f| {
        let mut f = f.shown_rel("image_1920", &["image_1920"]);
        f.stored = true;
        f
    });
    patch(&mut fields, "avatar_128", |f| {
        f.dep(&[
            "name",
            "user_id.avatar_128",
            "image_128",
            "name",
            "image_128",
        ])
    });
    fields.extend([
        f("private_email", "Private Email", Ty::Char).groups(hr),
        f("private_phone", "Private Phone", Ty::Char).groups(hr),
        f("identification_id", "Identification No", Ty::Char).groups(hr),
        f("birthday", "Date of Birth", Ty::Date).groups(hr),
    ]);
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "hr.employee",
            description: "Employee",
            ir_id: 525,
            order: "name",
            rec_names: &["name"],
            // Users without an HR group read public fields through hr.employee.public.
            acls: vec![acl(G_HR_USER, "1111"), acl(G_SYSTEM, "1000")],
            parent: Some(("parent_id", "You cannot create a recursive hierarchy.")),
            actions: ARCHIVE,
        },
        fields,
    ));

    let mut fields: Vec<Field> = employee_public_fields("hr.employee.public")
        .into_iter()
        .map(|mut f| {
            // Every field of the public view is read-only.
            f.readonly = true;
            f
        })
        .collect();
    patch(&mut fields, "name", |f| f.string("Name"));
    patch(&mut fields, "company_id", Field::opt);
    patch(&mut fields, "image_128", |f| {
        f.shown_rel("employee_id.image_128", &["employee_id.image_128"])
    });
    patch(&mut fields, "avatar_128", |f| {
        f.shown_rel("employee_id.avatar_128", &["employee_id.avatar_128"])
    });
    audit(&mut fields, &["name"]);
    patch(&mut fields, "create_date", |f| f.string("Create Date"));
    let mut public = define(
        Spec {
            name: "hr.employee.public",
            description: "Public Employee",
            ir_id: 527,
            order: "name",
            rec_names: &["name"],
            acls: vec![acl(G_USER, "1000")],
            parent: None,
            actions: &[],
        },
        fields,
    );
    public.table = "hr.employee";
    models.push(public);

    let mut fields = vec![
        f("key", "Key", Ty::Char).req(),
        f("value", "Value", Ty::Text).req(),
    ];
    audit(&mut fields, &["key"]);
    models.push(define(
        Spec {
            name: "ir.config_parameter",
            description: "System Parameter",
            ir_id: 39,
            order: "key",
            rec_names: &["key"],
            acls: vec![acl(G_SYSTEM, "1111")],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields =
        vec![
        f("name", "Model Description", Ty::Char).req().tr(),
        f("model", "Model", Ty::Char).req(),
        f("order", "Order", Ty::Char).req().help(
            "SQL expression for ordering records in the model; e.g. \"x_sequence asc, id desc\"",
        ),f("info", "Information", Ty::Text),
        f("transient", "Transient Model", Ty::Bool),
        f("field_id", "Fields", Ty::O2m("ir.model.fields", "model_id")).req(),];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "ir.model",
            description: "Models",
            ir_id: 3,
            // Declared `_order = 'model'`, but the kit's server lists models by name.
            order: "name",
            rec_names: &["name", "model"],
            acls: vec![acl(G_USER, "0000"), acl(G_ERP_MANAGER, "1111")],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields = vec![
        f("name", "Field Name", Ty::Char).req(),
        f("model", "Model Name", Ty::Char)
            .req()
            .help("The technical name of the model this field belongs to"),
        f("model_id", "Model", Ty::M2o("ir.model"))
            .req()
            .help("The model this field belongs to"),f("field_description", "Field Label", Ty::Char).req().tr(),
        f("help", "Field Help", Ty::Text).tr(),
        f("ttype", "Field Type", Ty::Sel(FIELD_TYPES)).req(),
        f("relation", "Related Model", Ty::Char)
            .help("For relationship fields, the technical name of the target model"),
        f("relation_field", "Relation Field", Ty::Char).help(
            "For one2many fields, the field on the target model that implement the opposite many2one relationship",
        ),
        f("related", "Related Field Definition", Ty::Char).help(
            "The corresponding related field, if any. This must be a dot-separated list of field names.",
        ),
        f("depends", "Dependencies", Ty::Char).help(
            "Dependencies of compute method; a list of comma-separated field names, like\n\n    name, partner_id.name",
        ),
        f("required", "Required", Ty::Bool),
        f("readonly", "Readonly", Ty::Bool),
        f("store", "Stored", Ty::Bool).help("Whether the value is stored in the database."),
        f("translate", "Translatable", Ty::Bool).help(
            "Whether values for this field can be translated (enables the translation mechanism for that field)",
        ),
    ];
    audit(
        &mut fields,
        &["field_description", "model", "field_description"],
    );
    models.push(define(
        Spec {
            name: "ir.model.fields",
            description: "Fields",
            ir_id: 4,
            order: "name",
            rec_names: &["field_description", "model"],
            acls: vec![acl(G_USER, "0000"), acl(G_ERP_MANAGER, "1111")],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    let mut fields = vec![f("name", "Name", Ty::Char).req().tr()];
    audit(&mut fields, &["name"]);
    models.push(define(
        Spec {
            name: "ir.module.category",
            description: "Application",
            ir_id: 66,
            order: "name",
            rec_names: &["name"],
            acls: vec![acl(G_USER, "1000"), acl(G_ERP_MANAGER, "1000")],
            parent: None,
            actions: &[],
        },
        fields,
    ));

    models
}

/// The public fields of an employee (all of `hr.employee.public`'s, less the log fields).
fn employee_public_fields(model: &'static str) -> Vec<Field> {
    vec![
        f("name", "Employee Name", Ty::Char),
        f("job_title", "Job Title", Ty::Char).dep(&["job_id"]),
        f("work_email", "Work Email", Ty::Char).dep(WORK_CONTACT),
        f("work_phone", "Work Phone", Ty::Char).dep(&["address_id"]),
        f("mobile_phone", "Work Mobile", Ty::Char).dep(WORK_CONTACT),
        f("department_id", "Department", Ty::M2o("hr.department")),
        f("parent_id", "Manager", Ty::M2o(model)).dep(&["department_id"]),
        f("coach_id", "Coach", Ty::M2o(model))
            .dep(&["parent_id"])
            .help("Select the \"Employee\" who is the coach of this employee.\nThe \"Coach\" has no specific rights or responsibilities by default."),f(
            "child_ids",
            "Direct subordinates",
            Ty::O2m(model, "parent_id"),
        ),
        f("user_id", "User", Ty::M2o("res.users")).help(""),
        f("company_id", "Company", Ty::M2o("res.company")).req(),
        f("active", "Active", Ty::Bool),
        f("image_128", "Image 128", Ty::Image).comp(),
        f("avatar_128", "Avatar 128", Ty::Image).comp().nosearch(),]
}

/// All models of the simulated database.
pub(crate) fn models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(build)
}

/// The model called `name`, if the database has it.
pub(crate) fn model(name: &str) -> Option<&'static Model> {
    models().iter().find(|m| m.name == name)
}
