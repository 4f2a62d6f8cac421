//! The schema of the simulated database: models, their fields (with Odoo's metadata), access
//! rights per group, and the groups themselves.

use std::sync::OnceLock;

/// A group's xml id.
pub(crate) type GroupId = &'static str;

pub(crate) const G_USER: GroupId = "base.group_user";
pub(crate) const G_SYSTEM: GroupId = "base.group_system";
pub(crate) const G_ERP_MANAGER: GroupId = "base.group_erp_manager";
pub(crate) const G_PARTNER_MANAGER: GroupId = "base.group_partner_manager";
pub(crate) const G_SALESMAN: GroupId = "sales_team.group_sale_salesman";
pub(crate) const G_SALESMAN_ALL: GroupId = "sales_team.group_sale_salesman_all_leads";
pub(crate) const G_SALE_MANAGER: GroupId = "sales_team.group_sale_manager";
pub(crate) const G_HR_USER: GroupId = "hr.group_hr_user";
pub(crate) const G_HR_MANAGER: GroupId = "hr.group_hr_manager";

/// (xml id, record id in res.groups, category, name)
pub(crate) const GROUPS: &[(GroupId, i64, &str, &str)] = &[
    (G_USER, 1, "User types", "Internal User"),
    (G_SYSTEM, 4, "Administration", "Settings"),
    (G_ERP_MANAGER, 2, "Administration", "Access Rights"),
    (G_PARTNER_MANAGER, 3, "Extra Rights", "Contact Creation"),
    (G_SALESMAN, 14, "Sales", "User: Own Documents Only"),
    (G_SALESMAN_ALL, 15, "Sales", "User: All Documents"),
    (G_SALE_MANAGER, 16, "Sales", "Administrator"),
    (G_HR_USER, 20, "Employees", "Officer: Manage all employees"),
    (G_HR_MANAGER, 21, "Employees", "Administrator"),
];

/// "Category/Name" as Odoo lists a group in model access errors.
pub(crate) fn group_full_name(group: GroupId) -> String {
    GROUPS
        .iter()
        .find(|g| g.0 == group)
        .map(|g| format!("{}/{}", g.2, g.3))
        .unwrap_or_else(|| group.to_owned())
}

/// "Category / Name" as Odoo lists a group in field access errors.
pub(crate) fn group_spaced_name(group: GroupId) -> String {
    GROUPS
        .iter()
        .find(|g| g.0 == group)
        .map(|g| format!("{} / {}", g.2, g.3))
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
    /// Computed by the simulator, never stored nor written.
    pub(crate) computed: bool,
    /// Translated per `context.lang`.
    pub(crate) translate: bool,
}

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
        translate: false,
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
    fn comp(mut self) -> Self {
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
    pub(crate) order: &'static str,
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
const ACTIVE_HELP: &str = "If unchecked, it will allow you to hide the record without removing it.";

fn audit(fields: &mut Vec<Field>) {
    fields.push(f("id", "ID", Ty::Int).comp());
    fields.push(f("display_name", "Display Name", Ty::Char).comp());
    fields.push(f("create_uid", "Created by", Ty::M2o("res.users")).ro());
    fields.push(f("create_date", "Creation Date", Ty::Datetime).ro());
    fields.push(f("write_uid", "Last Updated by", Ty::M2o("res.users")).ro());
    fields.push(f("write_date", "Last Updated on", Ty::Datetime).ro());
}

fn build() -> Vec<Model> {
    let mut models = Vec::new();

    let mut fields = vec![
        f("name", "Name", Ty::Char),
        f("complete_name", "Complete Name", Ty::Char).comp(),
        f("parent_id", "Related Company", Ty::M2o("res.partner")),
        f("child_ids", "Contact", Ty::O2m("res.partner", "parent_id")),
        f("category_id", "Tags", Ty::M2m("res.partner.category")),
        f("active", "Active", Ty::Bool),
        f("type", "Address Type", Ty::Sel(PARTNER_TYPES)),
        f("email", "Email", Ty::Char),
        f("phone", "Phone", Ty::Char),
        f("mobile", "Mobile", Ty::Char),
        f("website", "Website Link", Ty::Char),
        f("vat", "Tax ID", Ty::Char).help(
            "The Tax Identification Number. Values here will be validated based on the country format. You can use '/' to indicate that the partner is not subject to tax.",
        ),
        f("ref", "Reference", Ty::Char),
        f("is_company", "Is a Company", Ty::Bool)
            .help("Check if the contact is a company, otherwise it is a person"),
        f("company_type", "Company Type", Ty::Sel(COMPANY_TYPES)),
        f("company_name", "Company Name", Ty::Char),
        f("function", "Job Position", Ty::Char),
        f("street", "Street", Ty::Char),
        f("city", "City", Ty::Char),
        f("zip", "Zip", Ty::Char),
        f("country_id", "Country", Ty::M2o("res.country")),
        f("company_id", "Company", Ty::M2o("res.company")),
        f("user_id", "Salesperson", Ty::M2o("res.users"))
            .help("The internal user in charge of this contact."),
        f("comment", "Notes", Ty::Html),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.partner",
        description: "Contact",
        order: "complete_name asc, id desc",
        fields,
        acls: vec![
            acl(G_USER, "1000"),
            acl(G_PARTNER_MANAGER, "1111"),
            acl(G_SALESMAN, "1110"),
            acl(G_SALE_MANAGER, "1111"),
        ],
        parent: Some((
            "parent_id",
            "You cannot create recursive Partner hierarchies.",
        )),
        actions: &["action_archive", "action_unarchive"],
    });

    let mut fields = vec![
        f("name", "Tag Name", Ty::Char).req().tr(),
        f("color", "Color", Ty::Int),
        f("active", "Active", Ty::Bool).help(ACTIVE_HELP),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.partner.category",
        description: "Partner Tags",
        order: "name, id",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_PARTNER_MANAGER, "1111")],
        parent: None,
        actions: &["action_archive", "action_unarchive"],
    });

    let mut fields = vec![
        f("name", "Country Name", Ty::Char)
            .req()
            .tr()
            .help("The full name of the country."),
        f("code", "Country Code", Ty::Char)
            .help("The ISO country code in two chars. \nYou can use this field for quick search."),
        f("phone_code", "Country Calling Code", Ty::Int),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.country",
        description: "Country",
        order: "name, id",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_SYSTEM, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![
        f("name", "Company Name", Ty::Char).req(),
        f("partner_id", "Partner", Ty::M2o("res.partner")).req(),
        f("currency_id", "Currency", Ty::M2o("res.currency")).req(),
        f("email", "Email", Ty::Char),
        f("phone", "Phone", Ty::Char),
        f("country_id", "Country", Ty::M2o("res.country")),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.company",
        description: "Companies",
        order: "sequence, name",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_SYSTEM, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![
        f("name", "Currency", Ty::Char).req(),
        f("symbol", "Symbol", Ty::Char).req(),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.currency",
        description: "Currency",
        order: "active desc, name",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_SYSTEM, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![
        f("name", "Name", Ty::Char).req(),
        f("login", "Login", Ty::Char)
            .req()
            .help("Used to log into the system"),
        f("partner_id", "Related Partner", Ty::M2o("res.partner")).req(),
        f("email", "Email", Ty::Char),
        f("company_id", "Company", Ty::M2o("res.company")).req(),
        f("groups_id", "Groups", Ty::M2m("res.groups")),
        f("share", "Share User", Ty::Bool).comp(),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.users",
        description: "User",
        order: "name, login",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_ERP_MANAGER, "1111")],
        parent: None,
        actions: &["action_archive", "action_unarchive"],
    });

    let mut fields = vec![
        f("name", "Name", Ty::Char).req().tr(),
        f("full_name", "Group Name", Ty::Char).comp(),
        f("category_id", "Application", Ty::M2o("ir.module.category")),
        f("users", "Users", Ty::M2m("res.users")),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "res.groups",
        description: "Access Groups",
        order: "name",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_ERP_MANAGER, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![
        f("name", "Product", Ty::Char).req().tr(),
        f("default_code", "Internal Reference", Ty::Char),
        f("list_price", "Sales Price", Ty::Float)
            .help("Price at which the product is sold to customers."),
        f("active", "Active", Ty::Bool).help(ACTIVE_HELP),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "product.product",
        description: "Product Variant",
        order: "default_code, name, id",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_SALE_MANAGER, "1111")],
        parent: None,
        actions: &["action_archive", "action_unarchive"],
    });

    let mut fields = vec![
        f("name", "Order Reference", Ty::Char).req(),
        f("partner_id", "Customer", Ty::M2o("res.partner")).req(),
        f("date_order", "Order Date", Ty::Datetime)
            .req()
            .help("Creation date of draft/sent orders,\nConfirmation date of confirmed orders."),
        f("validity_date", "Expiration", Ty::Date).help(
            "Validity of the order, after that you will not able to sign & pay the quotation.",
        ),
        f("state", "Status", Ty::Sel(SO_STATES)).ro(),
        f("user_id", "Salesperson", Ty::M2o("res.users")),
        f("company_id", "Company", Ty::M2o("res.company")).req(),
        f("currency_id", "Currency", Ty::M2o("res.currency")).ro(),
        f(
            "order_line",
            "Order Lines",
            Ty::O2m("sale.order.line", "order_id"),
        ),
        f("amount_untaxed", "Untaxed Amount", Ty::Monetary).ro(),
        f("amount_tax", "Taxes", Ty::Monetary).ro(),
        f("amount_total", "Total", Ty::Monetary).ro(),
        f("client_order_ref", "Customer Reference", Ty::Char),
        f("origin", "Source Document", Ty::Char)
            .help("Reference of the document that generated this sales order request"),
        f("note", "Terms and conditions", Ty::Html),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "sale.order",
        description: "Sales Order",
        order: "date_order desc, id desc",
        fields,
        acls: vec![acl(G_SALESMAN, "1111"), acl(G_SALE_MANAGER, "1111")],
        parent: None,
        actions: &["action_confirm", "action_cancel", "action_draft"],
    });

    let mut fields = vec![
        f("order_id", "Order Reference", Ty::M2o("sale.order")).req(),
        f("name", "Description", Ty::Text).req(),
        f("product_id", "Product", Ty::M2o("product.product")),
        f("product_uom_qty", "Quantity", Ty::Float),
        f("price_unit", "Unit Price", Ty::Float),
        f("price_subtotal", "Subtotal", Ty::Monetary).ro(),
        f("price_total", "Total", Ty::Monetary).ro(),
        f("salesman_id", "Salesperson", Ty::M2o("res.users")).ro(),
        f("state", "Order Status", Ty::Sel(SO_STATES)).ro(),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "sale.order.line",
        description: "Sales Order Line",
        order: "order_id, sequence, id",
        fields,
        acls: vec![acl(G_SALESMAN, "1111"), acl(G_SALE_MANAGER, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![
        f("name", "Opportunity", Ty::Char).req(),
        f("partner_id", "Customer", Ty::M2o("res.partner")),
        f("user_id", "Salesperson", Ty::M2o("res.users")),
        f("type", "Type", Ty::Sel(LEAD_TYPES)).req(),
        f("priority", "Priority", Ty::Sel(PRIORITIES)),
        f("expected_revenue", "Expected Revenue", Ty::Monetary),
        f("probability", "Probability", Ty::Float),
        f("email_from", "Email", Ty::Char),
        f("phone", "Phone", Ty::Char),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "crm.lead",
        description: "Lead",
        order: "priority desc, id desc",
        fields,
        acls: vec![acl(G_SALESMAN, "1111"), acl(G_SALE_MANAGER, "1111")],
        parent: None,
        actions: &["action_archive", "action_unarchive"],
    });

    let mut fields = vec![
        f("name", "Department Name", Ty::Char).req().tr(),
        f("complete_name", "Complete Name", Ty::Char).comp(),
        f("parent_id", "Parent Department", Ty::M2o("hr.department")),
        f("active", "Active", Ty::Bool),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "hr.department",
        description: "Department",
        order: "name",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_HR_USER, "1111")],
        parent: Some(("parent_id", "You cannot create recursive departments.")),
        actions: &["action_archive", "action_unarchive"],
    });

    let hr = G_HR_USER;
    let mut fields = vec![
        f("name", "Employee Name", Ty::Char),
        f("job_title", "Job Title", Ty::Char),
        f("work_email", "Work Email", Ty::Char),
        f("work_phone", "Work Phone", Ty::Char),
        f("department_id", "Department", Ty::M2o("hr.department")),
        f("parent_id", "Manager", Ty::M2o("hr.employee")),
        f("user_id", "User", Ty::M2o("res.users")),
        f("company_id", "Company", Ty::M2o("res.company")).req(),
        f("active", "Active", Ty::Bool),
        f("private_email", "Private Email", Ty::Char).groups(hr),
        f("private_phone", "Private Phone", Ty::Char).groups(hr),
        f("identification_id", "Identification No", Ty::Char).groups(hr),
        f("birthday", "Date of Birth", Ty::Date).groups(hr),
        f("hourly_cost", "Hourly Cost", Ty::Monetary).groups(hr),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "hr.employee",
        description: "Employee",
        order: "name",
        fields,
        // Internal users read public fields (Odoo serves them from hr.employee.public).
        acls: vec![acl(G_USER, "1000"), acl(G_HR_USER, "1111")],
        parent: Some(("parent_id", "You cannot create a recursive hierarchy.")),
        actions: &["action_archive", "action_unarchive"],
    });

    let mut fields = vec![
        f("key", "Key", Ty::Char).req(),
        f("value", "Value", Ty::Text).req(),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "ir.config_parameter",
        description: "System Parameter",
        order: "key",
        fields,
        acls: vec![acl(G_SYSTEM, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![
        f("name", "Model Description", Ty::Char).req().tr(),
        f("model", "Model", Ty::Char).req(),
        f("info", "Information", Ty::Text),
        f("transient", "Transient Model", Ty::Bool),
    ];
    audit(&mut fields);
    models.push(Model {
        name: "ir.model",
        description: "Models",
        order: "model",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_SYSTEM, "1111")],
        parent: None,
        actions: &[],
    });

    let mut fields = vec![f("name", "Name", Ty::Char).req().tr()];
    audit(&mut fields);
    models.push(Model {
        name: "ir.module.category",
        description: "Application",
        order: "name",
        fields,
        acls: vec![acl(G_USER, "1000"), acl(G_SYSTEM, "1111")],
        parent: None,
        actions: &[],
    });

    models
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
