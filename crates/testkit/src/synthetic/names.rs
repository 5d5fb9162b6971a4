//! Names for synthetic people and schools. Each name has its display form and the ASCII form sign-in names are built
//! from (Entra ID requires ASCII user principal names): apostrophes dropped, diacritics folded, other scripts
//! romanised.

/// A name as shown, and the lower-case ASCII form used in sign-in names.
pub(crate) type Name = (&'static str, &'static str);

/// Common first names of English schools.
pub(crate) const FIRST_COMMON: &[Name] = &[
    ("Oliver", "oliver"),
    ("Amelia", "amelia"),
    ("George", "george"),
    ("Isla", "isla"),
    ("Harry", "harry"),
    ("Ava", "ava"),
    ("Noah", "noah"),
    ("Mia", "mia"),
    ("Jack", "jack"),
    ("Ivy", "ivy"),
    ("Leo", "leo"),
    ("Lily", "lily"),
    ("Arthur", "arthur"),
    ("Freya", "freya"),
    ("Oscar", "oscar"),
    ("Grace", "grace"),
    ("Charlie", "charlie"),
    ("Emily", "emily"),
    ("Jacob", "jacob"),
    ("Sophia", "sophia"),
    ("Thomas", "thomas"),
    ("Ella", "ella"),
    ("William", "william"),
    ("Poppy", "poppy"),
    ("James", "james"),
    ("Evie", "evie"),
    ("Henry", "henry"),
    ("Florence", "florence"),
    ("Alfie", "alfie"),
    ("Muhammad", "muhammad"),
    ("Aisha", "aisha"),
    ("Joshua", "joshua"),
    ("Hannah", "hannah"),
    ("Ethan", "ethan"),
    ("Ruby", "ruby"),
    ("Samuel", "samuel"),
    ("Priya", "priya"),
    ("Daniel", "daniel"),
    ("Megan", "megan"),
    ("Mary-Jane", "mary-jane"),
];

/// First names with apostrophes, diacritics and non-Latin scripts.
pub(crate) const FIRST_INTERNATIONAL: &[Name] = &[
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("José", "jose"),
    ("Ngọc", "ngoc"),
    ("Siobhán", "siobhan"),
    ("Chloé", "chloe"),
    ("François", "francois"),
    ("Björn", "bjorn"),
    ("Renée", "renee"),
    ("Mikołaj", "mikolaj"),
    ("Ayşe", "ayse"),
    ("Jürgen", "jurgen"),
    ("Saoirse", "saoirse"),
    ("D'Arcy", "darcy"),
    ("N'Golo", "ngolo"),
    ("Jean-Luc", "jean-luc"),
    ("伟", "wei"),
    ("静", "jing"),
    ("Мария", "mariya"),
    ("Дмитрий", "dmitriy"),
    ("محمد", "mohammed"),
    ("فاطمة", "fatima"),
    ("अनन्या", "ananya"),
    ("राहुल", "rahul"),
    ("Γιώργος", "giorgos"),
    ("陽翔", "haruto"),
    ("지민", "jimin"),
    ("ਹਰਪ੍ਰੀਤ", "harpreet"),
    ("Ðức", "duc"),
];

/// Common family names of English schools.
pub(crate) const LAST_COMMON: &[Name] = &[
    ("Smith", "smith"),
    ("Jones", "jones"),
    ("Williams", "williams"),
    ("Taylor", "taylor"),
    ("Brown", "brown"),
    ("Davies", "davies"),
    ("Evans", "evans"),
    ("Wilson", "wilson"),
    ("Thomas", "thomas"),
    ("Johnson", "johnson"),
    ("Roberts", "roberts"),
    ("Robinson", "robinson"),
    ("Thompson", "thompson"),
    ("Wright", "wright"),
    ("Walker", "walker"),
    ("White", "white"),
    ("Edwards", "edwards"),
    ("Hughes", "hughes"),
    ("Green", "green"),
    ("Hall", "hall"),
    ("Lewis", "lewis"),
    ("Harris", "harris"),
    ("Clarke", "clarke"),
    ("Patel", "patel"),
    ("Jackson", "jackson"),
    ("Wood", "wood"),
    ("Turner", "turner"),
    ("Cooper", "cooper"),
    ("Khan", "khan"),
    ("Ahmed", "ahmed"),
    ("Singh", "singh"),
    ("Begum", "begum"),
    ("McDonald", "mcdonald"),
    ("Smith-Jones", "smith-jones"),
    ("Nowak", "nowak"),
];

/// Family names with apostrophes, diacritics, spaces and non-Latin scripts.
pub(crate) const LAST_INTERNATIONAL: &[Name] = &[
    ("O'Brien", "obrien"),
    ("D'Souza", "dsouza"),
    ("O'Connor", "oconnor"),
    ("D'Angelo", "dangelo"),
    ("N'Diaye", "ndiaye"),
    ("Ó Súilleabháin", "osuilleabhain"),
    ("Ní Bhriain", "nibhriain"),
    ("van der Berg", "vanderberg"),
    ("Wiśniewska", "wisniewska"),
    ("Müller", "muller"),
    ("García", "garcia"),
    ("Fernández", "fernandez"),
    ("Nguyễn", "nguyen"),
    ("Lê", "le"),
    ("Jørgensen", "jorgensen"),
    ("Đorđević", "djordjevic"),
    ("Çelik", "celik"),
    ("Öztürk", "ozturk"),
    ("Åberg", "aberg"),
    ("Brontë", "bronte"),
    ("李", "li"),
    ("王", "wang"),
    ("张", "zhang"),
    ("Иванова", "ivanova"),
    ("Петров", "petrov"),
    ("حسن", "hassan"),
    ("الفارسي", "alfarsi"),
    ("शर्मा", "sharma"),
    ("Παπαδόπουλος", "papadopoulos"),
    ("佐藤", "sato"),
    ("김", "kim"),
];

/// The first part of school names (with its ASCII slug).
pub(crate) const SCHOOL_BASES: &[Name] = &[
    ("St Aidan's", "st-aidans"),
    ("St Bede's", "st-bedes"),
    ("St Cuthbert's", "st-cuthberts"),
    ("St Mary's", "st-marys"),
    ("Our Lady's", "our-ladys"),
    ("Holy Trinity", "holy-trinity"),
    ("Oakfield", "oakfield"),
    ("Riverside", "riverside"),
    ("Hillcrest", "hillcrest"),
    ("Meadowbank", "meadowbank"),
    ("Greenacre", "greenacre"),
    ("Brontë", "bronte"),
    ("Ysgol Tŷ Gwyn", "ysgol-ty-gwyn"),
    ("Kingsmead", "kingsmead"),
    ("Ashton Vale", "ashton-vale"),
    ("Brookfield", "brookfield"),
    ("Castle View", "castle-view"),
    ("Elmwood", "elmwood"),
    ("Fairfield", "fairfield"),
    ("Highgate", "highgate"),
    ("Lakeside", "lakeside"),
    ("Moorland", "moorland"),
    ("Northgate", "northgate"),
    ("Parkside", "parkside"),
    ("Queensbridge", "queensbridge"),
    ("Redwood", "redwood"),
    ("Southfields", "southfields"),
    ("Thornhill", "thornhill"),
    ("Westbury", "westbury"),
    ("Willowbrook", "willowbrook"),
];

/// Kinds of primary school (name suffix, slug suffix).
pub(crate) const PRIMARY_KINDS: &[Name] = &[
    ("Primary School", "primary"),
    ("C of E Primary School", "ce-primary"),
    ("Infant School", "infant"),
    ("Junior School", "junior"),
];

/// Kinds of secondary school.
pub(crate) const SECONDARY_KINDS: &[Name] =
    &[("Academy", "academy"), ("High School", "high"), ("Secondary School", "secondary"), ("College", "college")];

/// Places, to tell apart schools whose names would otherwise repeat.
pub(crate) const TOWNS: &[&str] = &[
    "Ashford",
    "Barnsley",
    "Carlisle",
    "Durham",
    "Exeter",
    "Frome",
    "Gateshead",
    "Hexham",
    "Ipswich",
    "Jarrow",
    "Kendal",
    "Leeds",
    "Morpeth",
    "Newark",
    "Oldham",
    "Penrith",
    "Ripon",
    "Sunderland",
    "Truro",
    "Wigan",
];

/// Trust names (display, slug).
pub(crate) const TRUSTS: &[Name] = &[
    ("Northstar Learning Trust", "northstar-learning"),
    ("St Aidan's Catholic Academy Trust", "st-aidans-cat"),
    ("Riverside Schools Partnership", "riverside-schools"),
    ("Brontë Multi-Academy Trust", "bronte-mat"),
    ("Ysgolion Cymru Education Trust", "ysgolion-cymru"),
    ("Pennine Learning Partnership", "pennine-learning"),
];

/// Staff roles by department: (department, job titles).
pub(crate) const STAFF_ROLES: &[(&str, &[&str])] = &[
    ("Teaching", &["Teacher", "Class Teacher", "Head of Maths", "Head of English", "Head of Science", "SENCo"]),
    ("Support", &["Teaching Assistant", "Learning Support Assistant", "IT Technician", "Site Manager"]),
    ("Administration", &["Office Manager", "Business Manager", "Receptionist", "Data Manager"]),
];

/// Domains of guests (supply agencies, peripatetic music services, personal addresses).
pub(crate) const GUEST_DOMAINS: &[&str] = &["supply-agency.example", "music-service.example", "gmail.example"];
