//! Demo data like the Odoo 18 database of the test kit (`base`, `contacts`, `sale_management`,
//! `crm`, `hr` with demo data, plus the kit's users and the three quotations of
//! `sales_agent`): partners, tags, users, products, sale orders and lines, leads, departments
//! and employees carry the kit's ids and values (`demo_data.json`, read from the kit's server;
//! its dates are moved to the simulator's clock).

use serde_json::{Map, Value, json};

use crate::db::{Db, seed_model};
use crate::model::{
    G_ACCOUNT_INVOICE, G_ACCOUNT_MANAGER, G_ERP_MANAGER, G_HR_MANAGER, G_HR_USER, G_NO_ONE,
    G_PARTNER_MANAGER, G_PORTAL, G_PRODUCT_MANAGER, G_SALE_MANAGER, G_SALESMAN, G_SALESMAN_ALL,
    G_SYSTEM, G_USER, GROUPS, models,
};

/// A demo user: login (= password), uid, display name, partner id, groups.
pub(crate) struct DemoUser {
    pub(crate) login: &'static str,
    pub(crate) uid: i64,
    pub(crate) name: &'static str,
    pub(crate) partner_id: i64,
    pub(crate) groups: &'static [&'static str],
}

/// The users that can log in.
pub(crate) const USERS: &[DemoUser] = &[
    DemoUser {
        login: "admin",
        uid: 2,
        name: "Mitchell Admin",
        partner_id: 3,
        groups: &[
            G_USER,
            G_ERP_MANAGER,
            G_SYSTEM,
            G_NO_ONE,
            G_PARTNER_MANAGER,
            G_PRODUCT_MANAGER,
            G_SALESMAN,
            G_SALESMAN_ALL,
            G_SALE_MANAGER,
            G_ACCOUNT_INVOICE,
            G_ACCOUNT_MANAGER,
            G_HR_USER,
            G_HR_MANAGER,
        ],
    },
    DemoUser {
        login: "sales_agent",
        uid: 8,
        name: "Sales Agent",
        partner_id: 60,
        groups: &[G_USER, G_NO_ONE, G_SALESMAN],
    },
    DemoUser {
        login: "readonly_bot",
        uid: 9,
        name: "Readonly Bot",
        partner_id: 61,
        groups: &[G_USER, G_NO_ONE],
    },
];

/// Groups of the demo users that cannot log in here (Marc Demo, the portal user).
const OTHER_USER_GROUPS: &[(i64, &[&str])] = &[
    (
        6,
        &[
            G_USER,
            G_NO_ONE,
            G_PARTNER_MANAGER,
            G_PRODUCT_MANAGER,
            G_SALESMAN,
            G_ACCOUNT_INVOICE,
        ],
    ),
    (7, &[G_PORTAL]),
];

/// The kit's records, by model.
const DEMO_DATA: &str = include_str!("demo_data.json");

/// Write dates the recordings show for some partners.
const WRITE_DATES: &[(i64, &str)] = &[
    (1, "2026-11-23 09:02:03"),
    (9, "2026-11-23 09:02:22"),
    (10, "2026-11-23 09:02:43"),
    (60, "2026-11-23 09:03:10"),
];

/// ISO 3166 countries in Odoo's id order (id = position + 1): code and English name.
const COUNTRIES: &str = "AD:Andorra|AE:United Arab Emirates|AF:Afghanistan|AG:Antigua and Barbuda|AI:Anguilla|AL:Albania|AM:Armenia|AO:Angola|AQ:Antarctica|AR:Argentina|AS:American Samoa|AT:Austria|AU:Australia|AW:Aruba|AX:Åland Islands|AZ:Azerbaijan|BA:Bosnia and Herzegovina|BB:Barbados|BD:Bangladesh|BE:Belgium|BF:Burkina Faso|BG:Bulgaria|BH:Bahrain|BI:Burundi|BJ:Benin|BL:Saint Barthélémy|BM:Bermuda|BN:Brunei Darussalam|BO:Bolivia|BQ:Bonaire, Sint Eustatius and Saba|BR:Brazil|BS:Bahamas|BT:Bhutan|BV:Bouvet Island|BW:Botswana|BY:Belarus|BZ:Belize|CA:Canada|CC:Cocos (Keeling) Islands|CD:Democratic Republic of the Congo|CF:Central African Republic|CG:Congo|CH:Switzerland|CI:Côte d'Ivoire|CK:Cook Islands|CL:Chile|CM:Cameroon|CN:China|CO:Colombia|CR:Costa Rica|CU:Cuba|CV:Cape Verde|CW:Curaçao|CX:Christmas Island|CY:Cyprus|CZ:Czech Republic|DE:Germany|DJ:Djibouti|DK:Denmark|DM:Dominica|DO:Dominican Republic|DZ:Algeria|EC:Ecuador|EE:Estonia|EG:Egypt|EH:Western Sahara|ER:Eritrea|ES:Spain|ET:Ethiopia|FI:Finland|FJ:Fiji|FK:Falkland Islands|FM:Micronesia|FO:Faroe Islands|FR:France|GA:Gabon|GB:United Kingdom|GD:Grenada|GE:Georgia|GF:French Guiana|GG:Guernsey|GH:Ghana|GI:Gibraltar|GL:Greenland|GM:Gambia|GN:Guinea|GP:Guadeloupe|GQ:Equatorial Guinea|GR:Greece|GS:South Georgia and the South Sandwich Islands|GT:Guatemala|GU:Guam|GW:Guinea-Bissau|GY:Guyana|HK:Hong Kong|HM:Heard Island and McDonald Islands|HN:Honduras|HR:Croatia|HT:Haiti|HU:Hungary|ID:Indonesia|IE:Ireland|IL:Israel|IM:Isle of Man|IN:India|IO:British Indian Ocean Territory|IQ:Iraq|IR:Iran|IS:Iceland|IT:Italy|JE:Jersey|JM:Jamaica|JO:Jordan|JP:Japan|KE:Kenya|KG:Kyrgyzstan|KH:Cambodia|KI:Kiribati|KM:Comoros|KN:Saint Kitts and Nevis|KP:North Korea|KR:South Korea|KW:Kuwait|KY:Cayman Islands|KZ:Kazakhstan|LA:Laos|LB:Lebanon|LC:Saint Lucia|LI:Liechtenstein|LK:Sri Lanka|LR:Liberia|LS:Lesotho|LT:Lithuania|LU:Luxembourg|LV:Latvia|LY:Libya|MA:Morocco|MC:Monaco|MD:Moldova|ME:Montenegro|MF:Saint Martin (French part)|MG:Madagascar|MH:Marshall Islands|MK:North Macedonia|ML:Mali|MM:Myanmar|MN:Mongolia|MO:Macau|MP:Northern Mariana Islands|MQ:Martinique|MR:Mauritania|MS:Montserrat|MT:Malta|MU:Mauritius|MV:Maldives|MW:Malawi|MX:Mexico|MY:Malaysia|MZ:Mozambique|NA:Namibia|NC:New Caledonia|NE:Niger|NF:Norfolk Island|NG:Nigeria|NI:Nicaragua|NL:Netherlands|NO:Norway|NP:Nepal|NR:Nauru|NU:Niue|NZ:New Zealand|OM:Oman|PA:Panama|PE:Peru|PF:French Polynesia|PG:Papua New Guinea|PH:Philippines|PK:Pakistan|PL:Poland|PM:Saint Pierre and Miquelon|PN:Pitcairn Islands|PR:Puerto Rico|PS:State of Palestine|PT:Portugal|PW:Palau|PY:Paraguay|QA:Qatar|RE:Réunion|RO:Romania|RS:Serbia|RU:Russian Federation|RW:Rwanda|SA:Saudi Arabia|SB:Solomon Islands|SC:Seychelles|SD:Sudan|SE:Sweden|SG:Singapore|SH:Saint Helena, Ascension and Tristan da Cunha|SI:Slovenia|SJ:Svalbard and Jan Mayen|SK:Slovakia|SL:Sierra Leone|SM:San Marino|SN:Senegal|SO:Somalia|SR:Suriname|SS:South Sudan|ST:São Tomé and Príncipe|SV:El Salvador|SX:Sint Maarten (Dutch part)|SY:Syria|SZ:Eswatini|TC:Turks and Caicos Islands|TD:Chad|TF:French Southern Territories|TG:Togo|TH:Thailand|TJ:Tajikistan|TK:Tokelau|TL:Timor-Leste|TM:Turkmenistan|TN:Tunisia|TO:Tonga|TR:Türkiye|TT:Trinidad and Tobago|TV:Tuvalu|TW:Taiwan|TZ:Tanzania|UA:Ukraine|UG:Uganda|UM:USA Minor Outlying Islands|US:United States|UY:Uruguay|UZ:Uzbekistan|VA:Holy See (Vatican City State)|VC:Saint Vincent and the Grenadines|VE:Venezuela|VG:Virgin Islands (British)|VI:Virgin Islands (USA)|VN:Vietnam|VU:Vanuatu|WF:Wallis and Futuna|WS:Samoa|XK:Kosovo|YE:Yemen|YT:Mayotte|ZA:South Africa|ZM:Zambia|ZW:Zimbabwe";

/// French names of some countries (`context.lang = fr_FR`).
const COUNTRIES_FR: &[(&str, &str)] = &[
    ("AE", "Émirats arabes unis"),
    ("AT", "Autriche"),
    ("BE", "Belgique"),
    ("BR", "Brésil"),
    ("CA", "Canada"),
    ("CH", "Suisse"),
    ("CN", "Chine"),
    ("DE", "Allemagne"),
    ("DK", "Danemark"),
    ("ES", "Espagne"),
    ("FR", "France"),
    ("GB", "Royaume-Uni"),
    ("IE", "Irlande"),
    ("IN", "Inde"),
    ("IT", "Italie"),
    ("JP", "Japon"),
    ("LU", "Luxembourg"),
    ("MA", "Maroc"),
    ("MX", "Mexique"),
    ("NL", "Pays-Bas"),
    ("NO", "Norvège"),
    ("PL", "Pologne"),
    ("PT", "Portugal"),
    ("SE", "Suède"),
    ("US", "États-Unis"),
];

fn insert(db: &mut Db, model: &str, id: i64, mut vals: Value) {
    let Some(m) = seed_model(model) else { return };
    if let Value::Object(map) = &mut vals {
        if m.field("create_date").is_some() && !map.contains_key("create_date") {
            map.insert("create_date".into(), json!("2026-11-23 09:01:40"));
        }
        if m.field("write_date").is_some() && !map.contains_key("write_date") {
            map.insert("write_date".into(), json!("2026-11-23 09:02:50"));
        }
        for key in ["create_uid", "write_uid"] {
            if m.field(key).is_some() && !map.contains_key(key) {
                map.insert(key.into(), json!(1));
            }
        }
        if m.name == "res.partner" && !map.contains_key("type") {
            map.insert("type".into(), json!("contact"));
        }
    }
    db.insert_json(m, id, vals);
}

fn group_ids(xmlids: &[&str]) -> Vec<i64> {
    GROUPS
        .iter()
        .filter(|g| xmlids.contains(&g.0))
        .map(|g| g.1)
        .collect()
}

/// The records of `model` in `demo_data.json`, with their ids.
fn records(data: &Map<String, Value>, model: &str) -> Vec<(i64, Map<String, Value>)> {
    data.get(model)
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(Value::as_object)
                .filter_map(|r| {
                    let mut r = r.clone();
                    let id = r.remove("id")?.as_i64()?;
                    Some((id, r))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Build the demo database.
#[allow(clippy::too_many_lines)]
pub(crate) fn seed() -> Db {
    let mut db = Db::default();
    let data: Map<String, Value> = match serde_json::from_str(DEMO_DATA) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };

    for (i, entry) in COUNTRIES.split('|').enumerate() {
        let (code, name) = entry.split_once(':').unwrap_or((entry, entry));
        let id = i64::try_from(i).expect("a seed list is short") + 1;
        insert(
            &mut db,
            "res.country",
            id,
            json!({"name": name, "code": code}),
        );
        if let Some((_, fr)) = COUNTRIES_FR.iter().find(|(c, _)| *c == code) {
            db.translations
                .insert(("res.country", "name", id, "fr_FR"), (*fr).to_owned());
        }
    }

    insert(
        &mut db,
        "res.currency",
        1,
        json!({"name": "USD", "symbol": "$"}),
    );
    insert(
        &mut db,
        "res.currency",
        2,
        json!({"name": "EUR", "symbol": "€", "active": false}),
    );
    insert(
        &mut db,
        "res.company",
        1,
        json!({"name": "YourCompany", "partner_id": 1, "currency_id": 1, "email": "info@yourcompany.com", "phone": "+1 555-555-5556", "country_id": 233}),
    );

    for (id, mut vals) in records(&data, "res.partner") {
        if let Some((_, date)) = WRITE_DATES.iter().find(|(p, _)| *p == id) {
            vals.insert("write_date".into(), json!(date));
        }
        insert(&mut db, "res.partner", id, Value::Object(vals));
    }
    for (id, vals) in records(&data, "res.partner.category") {
        insert(&mut db, "res.partner.category", id, Value::Object(vals));
    }

    let mut categories: Vec<(i64, &str)> = GROUPS.iter().map(|g| (g.3, g.2)).collect();
    categories.sort_unstable();
    categories.dedup();
    for (id, name) in categories {
        insert(&mut db, "ir.module.category", id, json!({"name": name}));
    }
    for (_, id, _, category, name) in GROUPS {
        insert(
            &mut db,
            "res.groups",
            *id,
            json!({"name": name, "category_id": category}),
        );
    }
    for (id, mut vals) in records(&data, "res.users") {
        let groups = USERS
            .iter()
            .find(|u| u.uid == id)
            .map(|u| u.groups)
            .or_else(|| {
                OTHER_USER_GROUPS
                    .iter()
                    .find(|(uid, _)| *uid == id)
                    .map(|(_, g)| *g)
            })
            .unwrap_or(&[]);
        vals.insert("groups_id".into(), json!(group_ids(groups)));
        vals.insert("company_id".into(), json!(1));
        insert(&mut db, "res.users", id, Value::Object(vals));
    }

    for (id, vals) in records(&data, "product.template") {
        insert(&mut db, "product.template", id, Value::Object(vals));
    }
    for (id, mut vals) in records(&data, "product.product") {
        if let Some(Value::String(variant)) = vals.remove("variant") {
            db.variants.insert(id, variant);
        }
        insert(&mut db, "product.product", id, Value::Object(vals));
    }

    let lines = records(&data, "sale.order.line");
    for (id, mut vals) in records(&data, "sale.order") {
        let total: f64 = lines
            .iter()
            .filter(|(_, l)| l.get("order_id").and_then(Value::as_i64) == Some(id))
            .map(|(_, l)| {
                l.get("product_uom_qty")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
                    * l.get("price_unit").and_then(Value::as_f64).unwrap_or(0.0)
            })
            .sum();
        for (key, value) in [
            ("company_id", json!(1)),
            ("currency_id", json!(1)),
            ("amount_untaxed", json!(total)),
            ("amount_tax", json!(0.0)),
            ("amount_total", json!(total)),
        ] {
            vals.insert(key.into(), value);
        }
        insert(&mut db, "sale.order", id, Value::Object(vals));
    }
    for (id, mut vals) in lines {
        let subtotal = vals
            .get("product_uom_qty")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            * vals
                .get("price_unit")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
        vals.insert("price_subtotal".into(), json!(subtotal));
        vals.insert("price_total".into(), json!(subtotal));
        insert(&mut db, "sale.order.line", id, Value::Object(vals));
    }

    for (id, vals) in records(&data, "crm.lead") {
        insert(&mut db, "crm.lead", id, Value::Object(vals));
    }
    for (id, vals) in records(&data, "hr.department") {
        insert(&mut db, "hr.department", id, Value::Object(vals));
    }
    for (id, mut vals) in records(&data, "hr.employee") {
        vals.insert("company_id".into(), json!(1));
        insert(&mut db, "hr.employee", id, Value::Object(vals));
    }

    for (id, key, value) in [
        (1, "database.create_date", "2026-11-23 09:01:40"),
        (2, "database.uuid", "0c9d7a5e-3b1f-4c2e-9a6d-5f8e7b4a2c10"),
        (3, "web.base.url", "http://127.0.0.1:8069"),
        (4, "base.default_max_email_size", "10"),
        (5, "mail.catchall.domain", "example.com"),
    ] {
        insert(
            &mut db,
            "ir.config_parameter",
            id,
            json!({"key": key, "value": value}),
        );
    }

    let mut field_id = 0;
    for m in models() {
        insert(
            &mut db,
            "ir.model",
            m.ir_id,
            json!({"name": m.description, "model": m.name, "order": m.order, "transient": false}),
        );
        for f in &m.fields {
            field_id += 1;
            insert(
                &mut db,
                "ir.model.fields",
                field_id,
                json!({
                    "name": f.name, "model": m.name, "model_id": m.ir_id,
                    "field_description": f.string, "help": f.help, "ttype": f.ty.name(),
                    "relation": f.ty.relation(), "related": f.related,
                    "relation_field": match f.ty { crate::model::Ty::O2m(_, inverse) => Some(inverse), _ => None },
                    "depends": f.depends.join(","), "required": f.required,
                    "readonly": f.readonly, "store": f.stored, "translate": f.translate,
                }),
            );
        }
    }
    db
}
