//! Demo data like a freshly initialised Odoo 18 demo database with `contacts`, `sale_management`,
//! `crm` and `hr`: every record the recorded traffic touches exists under the same id with the
//! same key values.

use serde_json::{Value, json};

use crate::db::{Db, seed_model};
use crate::model::{GROUPS, models};

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
            "base.group_user",
            "base.group_system",
            "base.group_erp_manager",
            "base.group_partner_manager",
            "sales_team.group_sale_salesman",
            "sales_team.group_sale_salesman_all_leads",
            "sales_team.group_sale_manager",
            "hr.group_hr_user",
            "hr.group_hr_manager",
        ],
    },
    DemoUser {
        login: "sales_agent",
        uid: 8,
        name: "Sales Agent",
        partner_id: 60,
        groups: &["base.group_user", "sales_team.group_sale_salesman"],
    },
    DemoUser {
        login: "readonly_bot",
        uid: 9,
        name: "Readonly Bot",
        partner_id: 61,
        groups: &["base.group_user"],
    },
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

/// Partners: id, name, parent, is_company, email, phone, country, extra.
fn partners() -> Vec<(i64, Value)> {
    let us = 233;
    let mut out = vec![
        (
            1,
            json!({"name": "YourCompany", "is_company": true, "email": "info@yourcompany.com", "phone": "+1 555-555-5556", "website": "http://www.example.com", "country_id": us, "street": "250 Executive Park Blvd, Suite 3400", "city": "San Francisco", "zip": "94134", "company_id": 1, "write_date": "2026-11-23 09:02:03"}),
        ),
        (
            2,
            json!({"name": "OdooBot", "email": "odoobot@example.com", "active": false}),
        ),
        (
            3,
            json!({"name": "Mitchell Admin", "company_name": "YourCompany", "email": "admin@yourcompany.example.com", "phone": "+1 555-555-5555", "country_id": us, "company_id": 1}),
        ),
        (
            4,
            json!({"name": "Public user", "active": false, "company_id": 1}),
        ),
        (5, json!({"name": "Default User Template", "active": false})),
        (
            7,
            json!({"name": "Marc Demo", "company_name": "YourCompany", "email": "mark.brown23@example.com", "country_id": us, "company_id": 1}),
        ),
        (
            8,
            json!({"name": "Joel Willis", "company_name": "YourCompany", "email": "joel.willis63@example.com", "phone": "(683)-556-5104", "country_id": us}),
        ),
        (
            9,
            json!({"name": "Wood Corner", "is_company": true, "email": "bhu.a100@ic.example.com", "phone": "(623)-853-7197", "website": "http://www.wood-corner.com", "country_id": us, "city": "Turlock", "vat": "US12345672", "write_date": "2026-11-23 09:02:22"}),
        ),
        (
            10,
            json!({"name": "Deco Addict", "is_company": true, "email": "info@agrolait.com", "phone": "(603)-996-3829", "website": "http://www.deco-addict.com", "country_id": us, "city": "Pleasant Hill", "vat": "US12345673", "write_date": "2026-11-23 09:02:43"}),
        ),
        (
            11,
            json!({"name": "Gemini Furniture", "is_company": true, "email": "john.b@tech.info", "phone": "(941)-284-4875", "website": "http://www.gemini-furniture.com", "country_id": us, "city": "Fairfield", "vat": "US12345674"}),
        ),
        (
            12,
            json!({"name": "Ready Mat", "is_company": true, "email": "info@deltapc.example.com", "phone": "(803)-873-6126", "website": "http://www.ready-mat.com", "country_id": us, "city": "Tracy", "vat": "US12345675"}),
        ),
        (
            13,
            json!({"name": "OpenWood", "is_company": true, "email": "ErikNFrench@armyspy.com", "phone": "+32 10 588 558", "website": "http://www.openwood.example.com", "country_id": 20, "city": "Brussels", "vat": "BE0477472701"}),
        ),
        (
            14,
            json!({"name": "The Jackson Group", "is_company": true, "email": "jackson.group82@example.com", "phone": "(334)-502-1024", "website": "http://www.jackson-group.com", "country_id": us, "city": "Gary"}),
        ),
        (
            15,
            json!({"name": "Azure Interior", "is_company": true, "email": "vauxoo@yourcompany.example.com", "phone": "(870)-931-0505", "website": "http://www.azure-interior.com", "country_id": us, "city": "Fremont", "vat": "US12345677"}),
        ),
        (
            16,
            json!({"name": "Lumber Inc", "is_company": true, "email": "lumber-inv92@example.com", "phone": "(828)-316-0593", "website": "http://www.lumber-inc.com", "country_id": us, "city": "Stockton"}),
        ),
    ];
    let contacts: &[(i64, &str, i64, &str)] = &[
        (17, "Willie Burke", 9, "willie.burke80@example.com"),
        (18, "Ron Gibson", 9, "ron.gibson76@example.com"),
        (19, "Douglas Fletcher", 10, "douglas.fletcher51@example.com"),
        (20, "Floyd Steward", 10, "floyd.steward34@example.com"),
        (21, "Edwin Hansen", 11, "edwin.hansen58@example.com"),
        (22, "Billy Fox", 12, "billy.fox45@example.com"),
        (23, "Jesse Brown", 11, "jesse.brown74@example.com"),
        (24, "Soham Palmer", 11, "soham.palmer15@example.com"),
        (25, "Kim Snyder", 12, "kim.snyder96@example.com"),
        (26, "Toni Jimenez", 14, "toni.jimenez23@example.com"),
        (27, "Brandon Freeman", 15, "brandon.freeman55@example.com"),
        (28, "Nicole Ford", 15, "nicole.ford75@example.com"),
        (29, "Gordon Owens", 14, "gordon.owens56@example.com"),
        (30, "Julie Richards", 12, "julie.richards84@example.com"),
        (31, "Theodore Gardner", 12, "theodore.gardner36@example.com"),
        (32, "Oscar Morgan", 11, "oscar.morgan11@example.com"),
        (33, "Tom Ruiz", 9, "tom.ruiz89@example.com"),
        (34, "Colleen Diaz", 15, "colleen.diaz83@example.com"),
        (35, "Lorraine Douglas", 16, "lorraine.douglas35@example.com"),
        (36, "Addison Olson", 10, "addison.olson28@example.com"),
        (37, "Edith Sanchez", 14, "edith.sanchez68@example.com"),
        (38, "Jeff Lawson", 14, "jeff.lawson52@example.com"),
        (40, "Chester Reed", 1, "chester.reed79@example.com"),
        (41, "Dwayne Newman", 1, "dwayne.newman28@example.com"),
    ];
    for (id, name, parent, email) in contacts {
        out.push((*id, json!({"name": name, "parent_id": parent, "email": email, "country_id": us, "type": "contact"})));
    }
    let people: &[(i64, &str, &str)] = &[
        (39, "Randall Lewis", "randall.lewis74@example.com"),
        (42, "Jeffrey Kelly", "jeffrey.kelly72@example.com"),
        (43, "Ernest Reed", "ernest.reed47@example.com"),
        (44, "Tina Williamson", "tina.williamson98@example.com"),
        (45, "Ronnie Hart", "ronnie.hart67@example.com"),
        (46, "Abigail Peterson", "abigail.peterson39@example.com"),
        (47, "Anita Oliver", "anita.oliver32@example.com"),
        (48, "Beth Evans", "beth.evans77@example.com"),
        (49, "Doris Cole", "doris.cole31@example.com"),
        (50, "Eli Lambert", "eli.lambert22@example.com"),
    ];
    for (id, name, email) in people {
        out.push((*id, json!({"name": name, "email": email, "country_id": us})));
    }
    out.push((60, json!({"name": "Sales Agent", "email": "sales_agent@example.com", "company_id": 1, "write_date": "2026-11-23 09:03:10"})));
    out.push((
        61,
        json!({"name": "Readonly Bot", "email": "readonly_bot@example.com", "company_id": 1}),
    ));
    out
}

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

/// id, name, customer, salesperson, type, priority, expected revenue
type LeadSeed = (
    i64,
    &'static str,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    f64,
);
/// id, name, job, work email, department, user, private email, private phone, identification, hourly cost
type EmployeeSeed = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    &'static str,
    f64,
);

/// Build the demo database.
pub(crate) fn seed() -> Db {
    let mut db = Db::default();

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

    for (id, vals) in partners() {
        insert(&mut db, "res.partner", id, vals);
    }
    for (id, name) in [
        (1, "Prospects"),
        (2, "Services"),
        (3, "Office Supplies"),
        (4, "Consulting"),
        (5, "Vendor"),
    ] {
        insert(&mut db, "res.partner.category", id, json!({"name": name}));
    }
    if let Some(t) = db.tables.get_mut("res.partner") {
        for (pid, tags) in [(10, vec![1, 2]), (11, vec![3]), (15, vec![4])] {
            if let Some(row) = t.rows.get_mut(&pid) {
                row.insert("category_id", json!(tags));
            }
        }
    }

    for (i, (_, id, category, name)) in GROUPS.iter().enumerate() {
        let cat = i64::try_from(i).expect("a seed list is short") + 1;
        insert(
            &mut db,
            "ir.module.category",
            cat,
            json!({"name": category}),
        );
        insert(
            &mut db,
            "res.groups",
            *id,
            json!({"name": name, "category_id": cat}),
        );
    }
    let group_ids = |xmlids: &[&str]| -> Vec<i64> {
        GROUPS
            .iter()
            .filter(|g| xmlids.contains(&g.0))
            .map(|g| g.1)
            .collect()
    };
    insert(
        &mut db,
        "res.users",
        1,
        json!({"name": "OdooBot", "login": "__system__", "partner_id": 2, "company_id": 1, "active": false}),
    );
    insert(
        &mut db,
        "res.users",
        6,
        json!({"name": "Marc Demo", "login": "demo", "partner_id": 7, "company_id": 1, "email": "mark.brown23@example.com", "groups_id": group_ids(&["base.group_user", "sales_team.group_sale_salesman"])}),
    );
    for user in USERS {
        insert(
            &mut db,
            "res.users",
            user.uid,
            json!({"name": user.name, "login": user.login, "partner_id": user.partner_id, "company_id": 1, "groups_id": group_ids(user.groups)}),
        );
    }

    let products: &[(i64, &str, &str, f64)] = &[
        (1, "Office Chair", "FURN_7777", 70.0),
        (2, "Office Lamp", "FURN_8888", 40.0),
        (3, "Office Design Software", "FURN_9999", 280.0),
        (4, "Desk Combination", "FURN_7800", 450.0),
        (5, "Customizable Desk", "FURN_0096", 750.0),
        (6, "Corner Desk Right Sit", "E-COM06", 147.0),
        (7, "Large Cabinet", "E-COM07", 320.0),
        (8, "Storage Box", "E-COM08", 15.8),
        (9, "Large Desk", "E-COM09", 1799.0),
        (10, "Pedal Bin", "E-COM10", 47.0),
        (11, "Cabinet with Doors", "E-COM11", 140.0),
        (12, "Drawer Black", "FURN_8900", 25.0),
    ];
    for (id, name, code, price) in products {
        insert(
            &mut db,
            "product.product",
            *id,
            json!({"name": name, "default_code": code, "list_price": price}),
        );
    }

    // 20 demo sale orders; sums per customer as the recorded read_group reports them.
    let orders: &[(i64, i64, f64, &str, i64, &str)] = &[
        (1, 10, 1740.0, "draft", 2, "2026-09-12 10:15:00"),
        (2, 11, 2947.5, "sale", 2, "2026-09-18 14:30:00"),
        (3, 11, 377.5, "draft", 6, "2026-09-25 09:00:00"),
        (4, 12, 2240.0, "sale", 2, "2026-10-02 11:45:00"),
        (5, 11, 1200.0, "sale", 2, "2026-10-05 16:20:00"),
        (6, 8, 4000.0, "sale", 6, "2026-10-08 08:10:00"),
        (7, 11, 750.0, "draft", 2, "2026-10-11 13:00:00"),
        (8, 16, 750.0, "sale", 2, "2026-10-14 15:40:00"),
        (9, 11, 1620.0, "sale", 6, "2026-10-19 10:05:00"),
        (10, 10, 405.0, "sale", 2, "2026-10-22 12:00:00"),
        (11, 11, 960.0, "draft", 2, "2026-10-27 09:30:00"),
        (12, 12, 1085.0, "draft", 6, "2026-11-01 17:15:00"),
        (13, 11, 480.0, "sale", 2, "2026-11-03 10:50:00"),
        (14, 11, 1125.0, "draft", 2, "2026-11-06 11:25:00"),
        (15, 8, 687.5, "draft", 6, "2026-11-09 14:00:00"),
        (16, 11, 2190.0, "sale", 2, "2026-11-12 09:45:00"),
        (17, 11, 245.0, "draft", 2, "2026-11-15 16:35:00"),
        (18, 11, 990.0, "sale", 6, "2026-11-18 13:10:00"),
        (19, 11, 588.0, "draft", 2, "2026-11-20 10:00:00"),
        (20, 11, 500.0, "draft", 2, "2026-11-22 15:55:00"),
    ];
    for (id, partner, amount, state, user, date) in orders {
        insert(
            &mut db,
            "sale.order",
            *id,
            json!({
                "name": format!("S{id:05}"), "partner_id": partner, "date_order": date, "state": state,
                "user_id": user, "company_id": 1, "currency_id": 1,
                "amount_untaxed": amount, "amount_tax": 0.0, "amount_total": amount,
            }),
        );
        let product = (*id % 12) + 1;
        insert(
            &mut db,
            "sale.order.line",
            *id,
            json!({
                "order_id": id, "name": format!("Demo line of S{id:05}"), "product_id": product,
                "product_uom_qty": 1.0, "price_unit": amount, "price_subtotal": amount,
                "price_total": amount, "salesman_id": user, "state": state,
            }),
        );
    }

    let leads: &[LeadSeed] = &[
        (
            1,
            "Office Design Project",
            10,
            Some(2),
            "opportunity",
            "2",
            24000.0,
        ),
        (
            2,
            "Furnitures for new office",
            11,
            Some(6),
            "opportunity",
            "1",
            5600.0,
        ),
        (3, "Need 20 Desks", 12, Some(2), "opportunity", "3", 60000.0),
        (4, "Interest in your products", 16, None, "lead", "0", 0.0),
        (
            5,
            "Quote for 600 Chairs",
            15,
            Some(8),
            "opportunity",
            "1",
            22500.0,
        ),
        (
            6,
            "Design Software",
            13,
            Some(6),
            "opportunity",
            "0",
            4500.0,
        ),
        (
            7,
            "Cabinets for the warehouse",
            9,
            Some(8),
            "lead",
            "2",
            3800.0,
        ),
        (
            8,
            "Distributor Contract",
            14,
            Some(2),
            "opportunity",
            "3",
            19800.0,
        ),
    ];
    for (id, name, partner, user, ty, prio, revenue) in leads {
        insert(
            &mut db,
            "crm.lead",
            *id,
            json!({
                "name": name, "partner_id": partner, "user_id": user, "type": ty, "priority": prio,
                "expected_revenue": revenue, "probability": 10.0 * (*id as f64),
            }),
        );
    }

    insert(
        &mut db,
        "hr.department",
        1,
        json!({"name": "Administration"}),
    );
    insert(&mut db, "hr.department", 2, json!({"name": "Management"}));
    insert(
        &mut db,
        "hr.department",
        3,
        json!({"name": "Sales", "parent_id": 2}),
    );
    insert(
        &mut db,
        "hr.department",
        4,
        json!({"name": "Research & Development", "parent_id": 2}),
    );
    let employees: &[EmployeeSeed] = &[
        (
            1,
            "Mitchell Admin",
            "Chief Executive Officer",
            "admin@yourcompany.example.com",
            2,
            Some(2),
            "mitchell.private@example.com",
            "+1 555-010-0001",
            "ADM-0001",
            120.0,
        ),
        (
            2,
            "Jeffrey Kelly",
            "Marketing and Community Manager",
            "jeffrey.kelly72@example.com",
            3,
            None,
            "jeffrey.private@example.com",
            "+1 555-010-0002",
            "EMP-0002",
            45.0,
        ),
        (
            3,
            "Marc Demo",
            "Experienced Developer",
            "mark.brown23@example.com",
            4,
            Some(6),
            "marc.private@example.com",
            "+1 555-010-0003",
            "EMP-0003",
            60.0,
        ),
        (
            4,
            "Abigail Peterson",
            "Consultant",
            "abigail.peterson39@example.com",
            3,
            None,
            "abigail.private@example.com",
            "+1 555-010-0004",
            "EMP-0004",
            40.0,
        ),
        (
            5,
            "Anita Oliver",
            "Experienced Developer",
            "anita.oliver32@example.com",
            4,
            None,
            "anita.private@example.com",
            "+1 555-010-0005",
            "EMP-0005",
            58.0,
        ),
        (
            6,
            "Beth Evans",
            "Human Resources Manager",
            "beth.evans77@example.com",
            1,
            None,
            "beth.private@example.com",
            "+1 555-010-0006",
            "EMP-0006",
            50.0,
        ),
    ];
    for (id, name, job, email, dept, user, pmail, pphone, ident, cost) in employees {
        insert(
            &mut db,
            "hr.employee",
            *id,
            json!({
                "name": name, "job_title": job, "work_email": email, "department_id": dept,
                "user_id": user, "company_id": 1, "private_email": pmail, "private_phone": pphone,
                "identification_id": ident, "hourly_cost": cost, "parent_id": if *id == 1 { Value::Null } else { json!(1) },
            }),
        );
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

    for (i, m) in models().iter().enumerate() {
        insert(
            &mut db,
            "ir.model",
            i64::try_from(i).expect("a seed list is short") + 1,
            json!({"name": m.description, "model": m.name, "transient": false}),
        );
    }
    db
}
